using VgMesh.Cluster.Coordinator;

namespace VgMesh.Cluster.Tests.Coordinator;

public class CoordinatorStateTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);

    private static OperationRequest Req(string id, string kind = "lv.create") => new(id, kind, "{}", "node1");

    private static OperationCompleted Done(string id, long generation, long lastEvent, int events = 1, params ClaimChange[] claims) => new(
        new OperationResult(id, OperationStatus.Succeeded, "ok", null, "node1", generation, T0, lastEvent),
        [.. Enumerable.Range(0, events).Select(i => new ClusterEvent("lv.created", $"san/{id}-{i}", null, 10 + i, id, "node1", T0))],
        [.. claims],
        generation,
        T0);

    [Fact]
    public void Apply_AcceptedOperations_QueueInSubmissionOrder()
    {
        var s = CoordinatorState.Empty
            .Apply(new CoordinatorStarted(1, "node1", T0))
            .Apply(new OperationAccepted(Req("b"), 1, T0))
            .Apply(new OperationAccepted(Req("a"), 1, T0));

        Assert.Equal("b", s.NextPending!.Request.Id);
        Assert.Equal([1L, 2L], s.Pending.Keys);
        Assert.Equal(OperationPhase.Queued, s.Operations["a"].Phase);
    }

    [Fact]
    public void Apply_ResultWithItsRequest_RecordsAnOperationThatRanOutsideTheQueue()
    {
        var s = CoordinatorState.Empty
            .Apply(new OperationAccepted(Req("queued"), 1, T0))
            .Apply(Done("ran-on-node2", 1, 1, claims: ClaimChange.Drop("san/vm1")) with { Request = Req("ran-on-node2") });

        var op = s.Operations["ran-on-node2"];
        Assert.Equal(OperationPhase.Completed, op.Phase);
        Assert.Equal("ran-on-node2", op.Result!.Id);
        Assert.Equal("lv.create", op.Request.Kind);
        Assert.Equal(1, s.LastEventSequence);
        Assert.Equal("queued", s.NextPending!.Request.Id); // the queue is untouched
        Assert.Single(s.Pending);

        // Applied again (a replayed entry): nothing more.
        Assert.Equal(s, s.Apply(Done("ran-on-node2", 1, 1) with { Request = Req("ran-on-node2") }));
    }

    [Fact]
    public void Apply_SameIdTwice_OneOperation()
    {
        var s = CoordinatorState.Empty
            .Apply(new OperationAccepted(Req("a"), 1, T0))
            .Apply(new OperationAccepted(Req("a"), 1, T0));

        Assert.Single(s.Operations);
        Assert.Single(s.Pending);
    }

    [Fact]
    public void Apply_Completed_NumbersEventsAndLeavesQueue()
    {
        var s = CoordinatorState.Empty
            .Apply(new OperationAccepted(Req("a"), 1, T0))
            .Apply(new OperationStarted("a", 1, T0))
            .Apply(Done("a", 1, 2, events: 2))
            .Apply(new OperationAccepted(Req("b"), 1, T0))
            .Apply(Done("b", 1, 3, events: 1));

        Assert.Equal(3, s.LastEventSequence);
        Assert.Empty(s.Pending);
        Assert.Equal(OperationPhase.Completed, s.Operations["a"].Phase);
        Assert.Equal("ok", s.Operations["b"].Result!.Message);
    }

    [Fact]
    public void Apply_CompletedTwice_SecondChangesNothing()
    {
        var once = CoordinatorState.Empty.Apply(new OperationAccepted(Req("a"), 1, T0)).Apply(Done("a", 1, 1));
        var twice = once.Apply(Done("a", 1, 2));

        Assert.Same(once, twice);
    }

    [Fact]
    public void Apply_EventOfOlderGeneration_IsIgnored()
    {
        var s = CoordinatorState.Empty
            .Apply(new CoordinatorStarted(1, "node1", T0))
            .Apply(new OperationAccepted(Req("a"), 1, T0))
            .Apply(new CoordinatorStarted(2, "node2", T0));

        var stale = s.Apply(Done("a", 1, 1));

        Assert.Same(s, stale);
        Assert.Equal(2, s.Generation);
    }

    [Fact]
    public void Apply_StartedUnderOldGeneration_StaysPendingForTheNext()
    {
        var s = CoordinatorState.Empty
            .Apply(new CoordinatorStarted(1, "node1", T0))
            .Apply(new OperationAccepted(Req("a"), 1, T0))
            .Apply(new OperationStarted("a", 1, T0))
            .Apply(new CoordinatorStarted(2, "node2", T0));

        var next = s.NextPending!;
        Assert.Equal(OperationPhase.Started, next.Phase);
        Assert.True(next.StartedGeneration < s.Generation);
    }

    [Fact]
    public void CheckClaims_SecondExclusiveHolder_Refused()
    {
        var s = CoordinatorState.Empty
            .Apply(new OperationAccepted(Req("a"), 1, T0))
            .Apply(Done("a", 1, 1, 1, ClaimChange.Grant("san/vm1", "node1", ClaimMode.Exclusive)));

        var conflict = s.CheckClaims([ClaimChange.Grant("san/vm1", "node2", ClaimMode.Exclusive)]);

        Assert.NotNull(conflict);
        Assert.Equal("san/vm1", conflict.Lv);
        Assert.Equal(["node1"], conflict.Holders);
        Assert.Contains("exclusively on node1", conflict.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void CheckClaims_SharedBesideExclusive_Refused()
    {
        var s = CoordinatorState.Empty
            .Apply(new OperationAccepted(Req("a"), 1, T0))
            .Apply(Done("a", 1, 1, 1, ClaimChange.Grant("san/vm1", "node1", ClaimMode.Exclusive)));

        Assert.NotNull(s.CheckClaims([ClaimChange.Grant("san/vm1", "node2", ClaimMode.Shared)]));
        Assert.NotNull(s.CheckClaims([ClaimChange.Grant("san/vm1", "node1", ClaimMode.Shared)]));
    }

    [Fact]
    public void CheckClaims_ExclusiveBesideShared_Refused()
    {
        var s = CoordinatorState.Empty
            .Apply(new OperationAccepted(Req("a"), 1, T0))
            .Apply(Done("a", 1, 1, 1, ClaimChange.Grant("san/vm1", "node1", ClaimMode.Shared), ClaimChange.Grant("san/vm1", "node2", ClaimMode.Shared)));

        Assert.Equal(["node1", "node2"], s.Claims["san/vm1"].Hosts);
        Assert.NotNull(s.CheckClaims([ClaimChange.Grant("san/vm1", "node1", ClaimMode.Exclusive)]));
        Assert.Null(s.CheckClaims([ClaimChange.Grant("san/vm1", "node3", ClaimMode.Shared)]));
    }

    [Fact]
    public void CheckClaims_HandoffOnlyFromTheExclusiveHolder()
    {
        var s = CoordinatorState.Empty
            .Apply(new OperationAccepted(Req("a"), 1, T0))
            .Apply(Done("a", 1, 1, 1, ClaimChange.Grant("san/vm1", "node1", ClaimMode.Exclusive)));

        Assert.Null(s.CheckClaims([ClaimChange.Handoff("san/vm1", "node1", "node2")]));
        Assert.NotNull(s.CheckClaims([ClaimChange.Handoff("san/vm1", "node3", "node2")]));
        Assert.NotNull(s.CheckClaims([ClaimChange.Handoff("san/vm2", "node1", "node2")]));
    }

    [Fact]
    public void Apply_Handoff_MovesTheExclusiveClaim()
    {
        var s = CoordinatorState.Empty
            .Apply(new OperationAccepted(Req("a"), 1, T0))
            .Apply(Done("a", 1, 1, 1, ClaimChange.Grant("san/vm1", "node1", ClaimMode.Exclusive)))
            .Apply(new OperationAccepted(Req("b"), 1, T0))
            .Apply(Done("b", 1, 2, 1, ClaimChange.Handoff("san/vm1", "node1", "node2")));

        var claim = s.Claims["san/vm1"];
        Assert.Equal(ClaimMode.Exclusive, claim.Mode);
        Assert.Equal(["node2"], claim.Hosts);
        Assert.NotNull(s.CheckClaims([ClaimChange.Grant("san/vm1", "node1", ClaimMode.Exclusive)]));
    }

    [Fact]
    public void CheckClaims_InOrder_ReleaseThenGrantElsewhere_Allowed()
    {
        var s = CoordinatorState.Empty
            .Apply(new OperationAccepted(Req("a"), 1, T0))
            .Apply(Done("a", 1, 1, 1, ClaimChange.Grant("san/vm1", "node1", ClaimMode.Exclusive)));

        Assert.Null(s.CheckClaims([ClaimChange.Release("san/vm1", "node1"), ClaimChange.Grant("san/vm1", "node2", ClaimMode.Exclusive)]));
        Assert.NotNull(s.CheckClaims([ClaimChange.Grant("san/vm1", "node2", ClaimMode.Exclusive), ClaimChange.Release("san/vm1", "node1")]));
    }

    [Fact]
    public void Apply_Drop_EndsEveryClaim()
    {
        var s = CoordinatorState.Empty
            .Apply(new OperationAccepted(Req("a"), 1, T0))
            .Apply(Done("a", 1, 1, 1, ClaimChange.Grant("san/vm1", "node1", ClaimMode.Shared), ClaimChange.Grant("san/vm1", "node2", ClaimMode.Shared)))
            .Apply(new OperationAccepted(Req("b"), 1, T0))
            .Apply(Done("b", 1, 2, 1, ClaimChange.Drop("san/vm1")));

        Assert.Empty(s.Claims);
    }

    [Fact]
    public void Apply_ReplayOfTheSameEvents_SameState()
    {
        ICoordinatorEvent[] history =
        [
            new CoordinatorStarted(1, "node1", T0),
            new OperationAccepted(Req("a"), 1, T0),
            new OperationStarted("a", 1, T0),
            Done("a", 1, 2, 2, ClaimChange.Grant("san/vm1", "node1", ClaimMode.Exclusive)),
            new CoordinatorStarted(2, "node2", T0),
            new OperationAccepted(Req("b"), 2, T0),
        ];

        var one = history.Aggregate(CoordinatorState.Empty, (s, e) => s.Apply(e));
        var two = history.Aggregate(CoordinatorState.Empty, (s, e) => s.Apply(e));

        Assert.Equal(StateJson.Of(one), StateJson.Of(two));
        Assert.Equal(["b"], one.Pending.Values);
    }

    private static OperationCompleted DoneAt(string id, DateTimeOffset at, long lastEvent) => new(
        new OperationResult(id, OperationStatus.Succeeded, "ok", null, "node1", 1, at, lastEvent),
        [new ClusterEvent("lv.created", $"san/{id}", null, 10, id, "node1", at)],
        [],
        1,
        at);

    [Fact]
    public void Apply_HistoryPruned_ForgetsOldResultsAndMarks_KeepsPendingClaimsAndEventCount()
    {
        var old = T0.AddDays(-8);
        var s = CoordinatorState.Empty
            .Apply(new OperationAccepted(Req("old"), 1, old))
            .Apply(DoneAt("old", old, 1))
            .Apply(new HistoryMarked(2, 1, old.AddMinutes(1)))
            .Apply(new OperationAccepted(Req("queued-long-ago"), 1, old))
            .Apply(new OperationAccepted(Req("recent"), 1, T0))
            .Apply(Done("recent", 1, 2, 1, ClaimChange.Grant("vm", "node1", ClaimMode.Exclusive)))
            .Apply(new HistoryMarked(7, 1, T0));
        var before = T0.AddDays(-7);
        Assert.True(s.HasHistoryBefore(before));
        Assert.Equal(2, s.JournalWrittenBefore(before));

        var pruned = s.Apply(new HistoryPruned(before, 1, T0));

        Assert.Equal(["queued-long-ago", "recent"], pruned.Operations.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("queued-long-ago", pruned.NextPending!.Request.Id);
        Assert.Equal([7L], pruned.Marks.Keys);
        Assert.Equal(2, pruned.LastEventSequence);
        Assert.Equal(["node1"], pruned.Claims["vm"].Hosts);
        Assert.False(pruned.HasHistoryBefore(before));
        Assert.Equal(0, pruned.JournalWrittenBefore(before));
    }

    [Fact]
    public void Apply_HistoryPrunedOfAnOlderGeneration_ChangesNothing()
    {
        var s = CoordinatorState.Empty.Apply(new CoordinatorStarted(2, "node1", T0)).Apply(new HistoryMarked(1, 2, T0.AddDays(-9)));

        Assert.Same(s, s.Apply(new HistoryPruned(T0, 1, T0)));
    }

    private static CoordinatorState WithHostIds(params (string Host, int Id)[] ids) =>
        ids.Aggregate(CoordinatorState.Empty.Apply(new CoordinatorStarted(1, "node1", T0)), (s, h) => s.Apply(new LockHostIdRecorded(h.Host, h.Id, 1, T0)));

    [Fact]
    public void DecideLockHostId_RecordedId_IsKept()
    {
        var s = WithHostIds(("node1", 1), ("node2", 7));

        Assert.Equal((7, false, null), s.DecideLockHostId("node2", null));
        Assert.Equal((7, false, null), s.DecideLockHostId("node2", 7));
    }

    [Fact]
    public void DecideLockHostId_FreeProposal_IsTaken()
    {
        Assert.Equal((5, true, null), WithHostIds(("node1", 1)).DecideLockHostId("node2", 5));
    }

    [Fact]
    public void DecideLockHostId_NoProposal_GetsTheLowestFree()
    {
        Assert.Equal((2, true, null), WithHostIds(("node1", 1), ("node3", 3)).DecideLockHostId("node2", null));
    }

    [Fact]
    public void DecideLockHostId_AnotherHostsId_IsRefusedNamingTheOwner()
    {
        var (id, isNew, refusal) = WithHostIds(("node1", 1)).DecideLockHostId("node2", 1);

        Assert.Null(id);
        Assert.False(isNew);
        Assert.Contains("node1's", refusal, StringComparison.Ordinal);
        Assert.Contains("Remove the line on node2", refusal, StringComparison.Ordinal);
    }

    [Fact]
    public void DecideLockHostId_ChangedFromTheRecordedOne_IsRefused()
    {
        var (id, _, refusal) = WithHostIds(("node2", 2)).DecideLockHostId("node2", 9);

        Assert.Null(id);
        Assert.Contains("set host_id = 2", refusal, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2001)]
    public void DecideLockHostId_OutOfSanlocksRange_IsRefused(int proposed)
    {
        Assert.Contains("1-2000", CoordinatorState.Empty.DecideLockHostId("node1", proposed).Refusal, StringComparison.Ordinal);
    }

    [Fact]
    public void Apply_LockHostIdRecorded_UnderAStaleGeneration_ChangesNothing()
    {
        var s = WithHostIds(("node1", 1)).Apply(new CoordinatorStarted(4, "node2", T0)).Apply(new LockHostIdRecorded("node2", 2, 3, T0));

        Assert.False(s.LockHostIds.ContainsKey("node2"));
    }

    [Fact]
    public void DecideLockHostId_NoProposal_WaitsForMembersThatHaveNotToldTheirs()
    {
        var s = WithHostIds(("node2", 2));

        Assert.Equal((null, false, null), s.DecideLockHostId("node3", null, ["node1"]));
        Assert.Equal((1, true, null), s.DecideLockHostId("node3", null, ["node2", "node3"])); // recorded, or the asker itself
        Assert.Equal((5, true, null), s.DecideLockHostId("node3", 5, ["node1"])); // its own id waits for nobody
    }
}
