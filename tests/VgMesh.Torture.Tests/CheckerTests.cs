using VgMesh.Client;

namespace VgMesh.Torture.Tests;

/// <summary>
/// The checker over histories made by hand: a clean one passes, and each broken promise is
/// caught with an excerpt that shows it (the checker's proof that it can fail).
/// </summary>
public sealed class CheckerTests
{
    private const string Run = "t7x120000";
    private static readonly DateTimeOffset T0 = new(2026, 12, 6, 12, 0, 0, TimeSpan.Zero);

    private static DateTimeOffset At(double seconds) => T0.AddSeconds(seconds);

    private static HistoryEntry Req(int n, TortureOp op, Outcome outcome, double from, double to, string? code = null) =>
        new(0, "node1", op, $"{Run}-0-{n}", At(from), At(to), outcome, code, outcome == Outcome.Ok ? n : null, null);

    private static EventView Ev(long revision, string kind, string lv, int op, double at, string? data = null, string host = "node1") =>
        new(revision, kind, "san/" + lv, revision, $"{Run}-0-{op}", host, At(at), data);

    private static FinalState Final(IEnumerable<string> lvs, long lastEvent = 3, Dictionary<string, IReadOnlySet<string>>? dm = null) =>
        new(lastEvent, new Dictionary<string, long> { ["node1"] = lastEvent, ["node2"] = lastEvent }, new Dictionary<string, long> { ["node1"] = 9, ["node2"] = 9 },
            true, "", lvs.ToHashSet(), dm ?? new Dictionary<string, IReadOnlySet<string>>(), 1.0);

    private static DmSample Sample(string host, double at, params string[] live) => new(host, At(at), At(at + 0.05), live.ToHashSet());

    /// <summary>A clean history: created, activated on node1, handed to node2 after node1 let go.</summary>
    private static TortureHistory Clean() => new(Run,
        [
            Req(1, new TortureOp("create", "tx1", "8M"), Outcome.Ok, 0, 1),
            Req(2, new TortureOp("activate", "tx1", Host: "node1"), Outcome.Ok, 1, 2),
            Req(3, new TortureOp("activate", "tx1", Host: "node2"), Outcome.Ok, 3, 5),
            Req(4, new TortureOp("remove", "tx5"), Outcome.Failed, 3, 4, "not-found"),
        ],
        [new FaultEntry("kill-coordinator", "node1", At(2.5), At(4))],
        [
            Sample("node1", 1.5), Sample("node1", 1.8, "tx1"), Sample("node1", 2.1, "tx1"), Sample("node1", 2.4, "tx1"), Sample("node1", 3.9), Sample("node1", 4.2),
            Sample("node2", 1.6), Sample("node2", 3.5), Sample("node2", 4.0, "tx1"), Sample("node2", 4.3, "tx1"), Sample("node2", 4.6, "tx1"),
        ],
        [Ev(1, "lv.created", "tx1", 1, 0.9), Ev(2, "lv.claimed", "tx1", 2, 1.9), Ev(3, "lv.claimed", "tx1", 3, 4.8, host: "node2")],
        Final(["tx1", "other-lv"]));

    [Fact]
    public void CleanHistory_Passes() => Assert.Empty(Checker.Check(Clean()));

    [Fact]
    public void AcknowledgedButNotInTheJournal_Lost()
    {
        // As a build that answered before the coordinator persisted would leave it.
        var h = Clean() with { Events = [.. Clean().Events.Where(e => e.Revision != 3)], Final = Final(["tx1"], lastEvent: 2) };
        var v = Assert.Single(Checker.Check(h));
        Assert.Equal("acknowledged-lost", v.Check);
        Assert.Contains($"[{Run}-0-3]", v.What, StringComparison.Ordinal);
        Assert.Contains(v.Excerpt, l => l.Contains("activate tx1 on node2", StringComparison.Ordinal));
    }

    [Fact]
    public void SameOperationTwiceInTheJournal_AppliedTwice()
    {
        var h = Clean() with { Events = [.. Clean().Events, Ev(4, "lv.claimed", "tx1", 3, 6, host: "node2")], Final = Final(["tx1"], lastEvent: 4) };
        var v = Assert.Single(Checker.Check(h));
        Assert.Equal("applied-twice", v.Check);
        Assert.Contains("revisions 3, 4", v.What, StringComparison.Ordinal);
    }

    [Fact]
    public void RefusedButApplied_AndNeverSent_Phantoms()
    {
        var h = Clean() with
        {
            Events = [.. Clean().Events, Ev(4, "lv.removed", "tx5", 4, 4), Ev(5, "lv.created", "tx9", 99, 5)],
            Final = Final(["tx1", "tx9"], lastEvent: 5),
        };
        var found = Checker.Check(h);
        Assert.Equal(2, found.Count(v => v.Check == "phantom"));
        Assert.Contains(found, v => v.What.Contains("answered as failed (not-found) but the journal applied it", StringComparison.Ordinal));
        Assert.Contains(found, v => v.What.Contains("which no client sent", StringComparison.Ordinal));
    }

    [Fact]
    public void ExclusiveLvLiveOnTwoHosts_DoubleActive_WithBothStretchesAndTheFault()
    {
        // As a build that skipped the fence would leave it: node1 still live while node2 took over.
        var h = Clean() with
        {
            Samples = [.. Clean().Samples.Where(s => s.Host == "node2"), Sample("node1", 1.8, "tx1"), Sample("node1", 2.4, "tx1"), Sample("node1", 3.9, "tx1"), Sample("node1", 4.5, "tx1"), Sample("node1", 4.9)],
        };
        var v = Assert.Single(Checker.Check(h));
        Assert.Equal("double-active", v.Check);
        Assert.Contains("tx1 was live on node1 and on node2 at once", v.What, StringComparison.Ordinal);
        Assert.Contains(v.Excerpt, l => l.Contains("fault kill-coordinator node1", StringComparison.Ordinal));
        Assert.Contains(v.Excerpt, l => l.Contains("activate tx1 on node2", StringComparison.Ordinal));
    }

    [Fact]
    public void SharedLvOnTwoHosts_AFencedDevice_AndAPausedGap_AreNotDoubleActive()
    {
        var h = Clean() with
        {
            Samples =
            [
                .. Clean().Samples,
                Sample("node1", 5, "ts0"), Sample("node1", 5.3, "ts0"), Sample("node2", 5.1, "ts0"), Sample("node2", 5.4, "ts0"),
                // node3 saw tx1 once before a 10 s gap (paused) and once after: no stretch bridges it.
                Sample("node3", 2.0, "tx1"), Sample("node3", 12, "tx1"), Sample("node3", 12.3),
            ],
        };
        Assert.Empty(Checker.Check(h));
    }

    [Fact]
    public void LiveRightAfterAPause_UntilTheFence_IsTheThawWindow_AKnownLimitThatDoesNotFail()
    {
        // node1 held tx1, was frozen from 1.0 to 3.8 while node2 took it over (4.0 on), and fenced
        // 0.6 s after its thaw: reported as a known limit. Live 4 s after the thaw it fails.
        TortureHistory Thaw(double lastLive) => Clean() with
        {
            Faults = [new FaultEntry("pause", "node1", At(1.0), At(3.8))],
            Samples =
            [
                .. Clean().Samples.Where(s => s.Host == "node2"),
                Sample("node1", 0.5, "tx1"), Sample("node1", 0.8, "tx1"),
                Sample("node1", 3.7, "tx1"), .. Enumerable.Range(1, (int)Math.Round((lastLive - 3.7) / 0.3)).Select(k => Sample("node1", 3.7 + (k * 0.3), "tx1")), Sample("node1", lastLive + 0.3),
            ],
        };

        var known = Assert.Single(Checker.Check(Thaw(4.3)));
        Assert.Equal(Checker.ThawWindow, known.Check);
        Assert.False(Checker.Fails(known));
        Assert.Contains("node1 had just thawed from a pause", known.What, StringComparison.Ordinal);

        var late = Assert.Single(Checker.Check(Thaw(8.0)));
        Assert.Equal("double-active", late.Check);
        Assert.True(Checker.Fails(late));
    }

    [Fact]
    public void Lagging_Damaged_Stale_AndLvmDisagreeing_AreCaught()
    {
        var dm = new Dictionary<string, IReadOnlySet<string>> { ["node2"] = new HashSet<string> { "tx4" } };
        var h = Clean() with
        {
            Final = Final(["tx1", "tx2"], dm: dm) with
            {
                AppliedByHost = new Dictionary<string, long> { ["node1"] = 3, ["node2"] = 2 },
                VgckClean = false,
                VgckOutput = "checksum error",
            },
        };
        var checks = Checker.Check(h).Select(v => v.Check).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(["converged", "journal-vs-lvm", "stale-device", "vgck"], checks);
    }

    [Fact]
    public void FencedLvs_EachWipedDeviceRecorded_EachRecordWiped_SnapshotsGoWithTheirOrigin()
    {
        static Dictionary<string, IReadOnlySet<string>> On(string host, params string[] lvs) => new() { [host] = lvs.ToHashSet() };
        var accounted = Clean() with { Final = Final(["tx1"]) with { WipedByHost = On("node2", "tx1", "tx1s"), FencedByHost = On("node2", "tx1") } };
        Assert.Empty(Checker.Check(accounted));

        // Wiped with no record (nothing tells the operator), and a record with no wiped device.
        var unrecorded = accounted with { Final = accounted.Final with { FencedByHost = On("node2") } };
        Assert.Equal(2, Checker.FencedAccounted(unrecorded).Count(v => v.Check == "fenced-unaccounted"));
        var stale = accounted with { Final = accounted.Final with { WipedByHost = On("node2"), FencedByHost = On("node2", "tx3") } };
        Assert.Contains("records tx3 as fenced", Assert.Single(Checker.Check(stale)).What, StringComparison.Ordinal);
    }

    [Fact]
    public void Replay_FollowsRenamesSnapshotsRemovalsAndMerges()
    {
        EventView[] events =
        [
            Ev(1, "lv.created", "tx1", 1, 1), Ev(2, "lv.snapshot-created", "tx1", 2, 2, """{"lv":"tx1","newName":"tx1s"}"""),
            Ev(3, "lv.renamed", "tx1", 3, 3, """{"lv":"tx1","newName":"tx2"}"""), Ev(4, "lv.merging", "tx1s", 4, 4),
            Ev(5, "lv.created", "ts0", 5, 5), Ev(6, "lv.removed", "ts0", 6, 6),
        ];
        var (expected, maybe) = Checker.Replay(events);
        Assert.Equal(["tx2"], expected);
        Assert.Equal(["tx1s"], maybe);
    }
}
