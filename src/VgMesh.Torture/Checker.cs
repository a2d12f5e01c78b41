using System.Text.Json;
using VgMesh.Client;

namespace VgMesh.Torture;

/// <summary>
/// Judges a whole run: the clients' requests against the coordinator's journal, the hosts'
/// device-mapper samples against the exclusivity promise, and the end state against LVM's
/// metadata on the disk. Pure: everything it reads is in the <see cref="TortureHistory"/>.
/// </summary>
public static class Checker
{
    /// <summary>LVs whose name starts so are only ever activated exclusively by the workload.</summary>
    public const string ExclusivePrefix = "tx";

    /// <summary>The hosts must agree this long after the last fault healed.</summary>
    public static readonly TimeSpan ConvergeWithin = TimeSpan.FromSeconds(30);

    /// <summary>Consecutive samples further apart than this are not taken as one stretch of activity (the host was paused or slow).</summary>
    public static readonly TimeSpan SampleGap = TimeSpan.FromSeconds(1);

    /// <summary>
    /// A host thawed from a pause has this long to fence what it held. Self-fencing cannot act
    /// while the host is frozen, and a frozen host's claims move on (the others cannot tell a
    /// freeze from a crash): its devices are live from the thaw until its agent's first fence
    /// round, about a second in a lab host. Only the storage can close that window (SCSI-3
    /// reservations, issue #18), so it is reported as a known limit, not as a violation.
    /// </summary>
    public static readonly TimeSpan ThawFenceWithin = TimeSpan.FromSeconds(3);

    /// <summary>The finding a run reports but that does not fail it (see <see cref="ThawFenceWithin"/>).</summary>
    public const string ThawWindow = "thaw-window";

    /// <summary>Whether a finding fails the run.</summary>
    public static bool Fails(Violation v) => v?.Check != ThawWindow;

    public static IReadOnlyList<Violation> Check(TortureHistory h)
    {
        ArgumentNullException.ThrowIfNull(h);
        var found = new List<Violation>();
        var ours = h.Events.Where(e => e.OperationId?.StartsWith(h.RunId + "-", StringComparison.Ordinal) == true).ToList();
        var byOp = ours.GroupBy(e => e.OperationId!).ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
        var requests = h.Requests.ToDictionary(r => r.OperationId, StringComparer.Ordinal);

        // An acknowledged change is in the journal.
        foreach (var r in h.Requests.Where(r => r.Outcome == Outcome.Ok && !byOp.ContainsKey(r.OperationId)))
        {
            found.Add(new Violation("acknowledged-lost", $"{r.Op} [{r.OperationId}] was acknowledged at {r.Completed:HH:mm:ss.fff} (revision {r.Revision}) but no event of the journal carries its operation id",
                Excerpt(h, r.Op.Lv, r.Invoked, r.Completed)));
        }

        // Applied once: one operation's events do not repeat.
        foreach (var (id, events) in byOp)
        {
            foreach (var twice in events.GroupBy(e => (e.Kind, e.Subject)).Where(g => g.Count() > 1))
            {
                found.Add(new Violation("applied-twice", $"operation {id} ({twice.Key.Kind} {twice.Key.Subject}) is in the journal {twice.Count()} times, at revisions {string.Join(", ", twice.Select(e => e.Revision))}",
                    [.. twice.Select(Line), .. requests.TryGetValue(id, out var r) ? [r.ToString()] : Array.Empty<string>()]));
            }
        }

        // No phantom: every change of ours was asked for, and none that was refused for certain.
        foreach (var (id, events) in byOp)
        {
            if (!requests.TryGetValue(id, out var r))
            {
                found.Add(new Violation("phantom", $"the journal has operation {id}, which no client sent", [.. events.Select(Line)]));
            }
            else if (r.Outcome == Outcome.Failed)
            {
                found.Add(new Violation("phantom", $"{r.Op} [{id}] was answered as failed ({r.Code}) but the journal applied it", [r.ToString(), .. events.Select(Line)]));
            }
        }

        found.AddRange(DoubleActive(h));
        found.AddRange(EndState(h));
        found.AddRange(JournalVsLvm(h));
        return found;
    }

    /// <summary>
    /// An exclusive LV live on two hosts at once, from the samples. A host's stretch of activity
    /// runs from the end of the first sample that saw the LV live to the start of the last one
    /// in a row (it was certainly live at some instant of each, and is taken as live between);
    /// two hosts' stretches that overlap are a double activation. A stretch never bridges a gap
    /// longer than <see cref="SampleGap"/>: a paused host is not watched, and cannot write.
    /// </summary>
    internal static IEnumerable<Violation> DoubleActive(TortureHistory h)
    {
        var stretches = new List<Stretch>();
        foreach (var host in h.Samples.GroupBy(s => s.Host))
        {
            var ordered = host.OrderBy(s => s.Start).ToList();
            var open = new Dictionary<string, (DmSample First, DmSample Last, bool AfterGap)>(StringComparer.Ordinal);
            DmSample? previous = null;
            foreach (var s in ordered)
            {
                var gap = previous is not null && s.Start - previous.End > SampleGap;
                foreach (var lv in open.Keys.ToList().Where(lv => gap || !s.Live.Contains(lv)))
                {
                    var (first, last, afterGap) = open[lv];
                    stretches.Add(new Stretch(host.Key, lv, first, last, afterGap, Ended: true));
                    open.Remove(lv);
                }

                foreach (var lv in s.Live.Where(lv => lv.StartsWith(ExclusivePrefix, StringComparison.Ordinal)))
                {
                    open[lv] = open.TryGetValue(lv, out var o) ? (o.First, s, o.AfterGap) : (s, s, gap);
                }

                previous = s;
            }

            stretches.AddRange(open.Select(o => new Stretch(host.Key, o.Key, o.Value.First, o.Value.Last, o.Value.AfterGap, Ended: false)));
        }

        foreach (var lv in stretches.Where(s => s.From <= s.To).GroupBy(s => s.Lv))
        {
            var list = lv.OrderBy(s => s.From).ToList();
            for (var i = 0; i < list.Count; i++)
            {
                for (var j = i + 1; j < list.Count && list[j].From <= list[i].To; j++)
                {
                    if (list[j].Host == list[i].Host)
                    {
                        continue;
                    }

                    var (a, b) = (list[i], list[j]);
                    var from = b.From;
                    var to = a.To < b.To ? a.To : b.To;
                    var thawed = new[] { a, b }.FirstOrDefault(s => Thawed(h, s));
                    yield return new Violation(thawed is null ? "double-active" : ThawWindow,
                        $"{lv.Key} was live on {a.Host} and on {b.Host} at once, from {from:HH:mm:ss.fff} to {to:HH:mm:ss.fff} at least" +
                            (thawed is null ? "" : $" ({thawed.Host} had just thawed from a pause and its devices were live until its fence, {(thawed.Last.End - thawed.First.Start).TotalSeconds:0.0} s later)"),
                        [$"{a.Host}: live in every sample from {a.First.Start:HH:mm:ss.fff} to {a.Last.End:HH:mm:ss.fff}",
                         $"{b.Host}: live in every sample from {b.First.Start:HH:mm:ss.fff} to {b.Last.End:HH:mm:ss.fff}",
                         .. Excerpt(h, lv.Key, from, to)]);
                }
            }
        }
    }

    /// <summary>
    /// A host's stretch that began with its first samples after a pause of that host and ended
    /// within <see cref="ThawFenceWithin"/>: the thaw window, not a failure of the agent.
    /// </summary>
    private static bool Thawed(TortureHistory h, Stretch s) =>
        s.AfterGap && s.Ended && s.Last.End - s.First.Start <= ThawFenceWithin &&
        h.Faults.Any(f => f.Kind == "pause" && f.Host == s.Host && f.Start <= s.First.Start && s.First.Start <= f.End + SampleGap);

    /// <summary>One host's run of samples in a row that saw an LV live.</summary>
    private sealed record Stretch(string Host, string Lv, DmSample First, DmSample Last, bool AfterGap, bool Ended)
    {
        public DateTimeOffset From => First.End;

        public DateTimeOffset To => Last.Start;
    }

    /// <summary>The end: every host caught up, the VG clean, LVM's LVs what the journal made, no device left for a removed LV.</summary>
    internal static IEnumerable<Violation> EndState(TortureHistory h)
    {
        var f = h.Final;
        var lagging = f.AppliedByHost.Where(a => a.Value != f.LastEvent).Select(a => $"{a.Key} applied {a.Value}").ToList();
        if (lagging.Count > 0 || f.ConvergedSeconds > ConvergeWithin.TotalSeconds)
        {
            yield return new Violation("converged", $"{ConvergeWithin.TotalSeconds:0} s after the last fault healed the hosts had not all applied the journal's last event {f.LastEvent} (waited {f.ConvergedSeconds:0.0} s)",
                [.. f.AppliedByHost.Select(a => $"{a.Key}: applied {a.Value}"), .. h.Faults.TakeLast(3).Select(x => x.ToString())]);
        }

        if (f.VgSeqnoByHost.Values.Distinct().Count() > 1)
        {
            yield return new Violation("converged", "the hosts read different vg_seqno from the shared disk", [.. f.VgSeqnoByHost.Select(a => $"{a.Key}: vg_seqno {a.Value}")]);
        }

        if (!f.VgckClean)
        {
            yield return new Violation("vgck", "vgck found the VG's metadata damaged", [f.VgckOutput]);
        }

        foreach (var (host, devices) in f.DmByHost)
        {
            foreach (var lv in devices.Where(d => Workload.Owns(d) && !f.Lvs.Contains(d)))
            {
                yield return new Violation("stale-device", $"{host} still has a device for {lv}, which no longer exists", LastEvents(h.Events, lv));
            }
        }

        foreach (var v in FencedAccounted(h))
        {
            yield return v;
        }
    }

    /// <summary>
    /// Every fenced LV accounted for: a device wiped on a host is one its agent recorded (so its
    /// status, alerts and <c>vgmesh lv unfence</c> know of it), or a snapshot of one (the workload
    /// names a snapshot after its origin plus "s"; a fence wipes an origin's snapshots with it);
    /// and every record has its wiped device (a record without one would make the next fence
    /// round skip the device an activation brings).
    /// </summary>
    internal static IEnumerable<Violation> FencedAccounted(TortureHistory h)
    {
        var f = h.Final;
        foreach (var (host, wiped) in f.WipedByHost)
        {
            var records = f.FencedByHost.GetValueOrDefault(host) ?? new HashSet<string>();
            foreach (var lv in wiped.Where(lv => Workload.Owns(lv) && !records.Contains(lv) && !(lv.EndsWith('s') && records.Contains(lv[..^1]))))
            {
                yield return new Violation("fenced-unaccounted", $"{host} has {lv}'s device wiped (fenced) but its agent has no record of fencing it: nothing tells the operator, and no unfence would restore it",
                    [$"{host}: records {string.Join(", ", records.Order(StringComparer.Ordinal))}", .. LastEvents(h.Events, lv)]);
            }

            foreach (var lv in records.Where(lv => Workload.Owns(lv) && !wiped.Contains(lv)))
            {
                yield return new Violation("fenced-unaccounted", $"{host}'s agent records {lv} as fenced, but no wiped device of it is there", LastEvents(h.Events, lv));
            }
        }
    }

    /// <summary>
    /// LVM's LVs are what the whole journal's changes leave (earlier runs' too: the workload's
    /// LVs are only ever changed through the cluster), for the workload's names.
    /// </summary>
    internal static IEnumerable<Violation> JournalVsLvm(TortureHistory h)
    {
        var (expected, maybe) = Replay(h.Events);
        expected.RemoveWhere(lv => !Workload.Owns(lv));
        var lvm = h.Final.Lvs.Where(Workload.Owns).ToHashSet(StringComparer.Ordinal);
        foreach (var lv in expected.Except(lvm).Where(lv => !maybe.Contains(lv)))
        {
            yield return new Violation("journal-vs-lvm", $"the journal's changes leave {lv}, but LVM's metadata has no such LV", LastEvents(h.Events, lv));
        }

        foreach (var lv in lvm.Except(expected).Where(lv => !maybe.Contains(lv)))
        {
            yield return new Violation("journal-vs-lvm", $"LVM's metadata has {lv}, which the journal's changes do not leave", LastEvents(h.Events, lv));
        }
    }

    /// <summary>
    /// The workload's LVs the journal leaves, and those it may or may not (a snapshot merging
    /// disappears when its merge ends, which the journal does not record).
    /// </summary>
    internal static (HashSet<string> Expected, HashSet<string> Maybe) Replay(IEnumerable<EventView> events)
    {
        var lvs = new HashSet<string>(StringComparer.Ordinal);
        var maybe = new HashSet<string>(StringComparer.Ordinal);
        foreach (var e in events.OrderBy(e => e.Revision))
        {
            var lv = e.Subject[(e.Subject.IndexOf('/', StringComparison.Ordinal) + 1)..];
            switch (e.Kind)
            {
                case "lv.created":
                    lvs.Add(lv);
                    break;
                case "lv.snapshot-created" when NewName(e) is { } snap:
                    lvs.Add(snap);
                    break;
                case "lv.removed":
                    lvs.Remove(lv);
                    maybe.Remove(lv);
                    break;
                case "lv.renamed" when NewName(e) is { } to:
                    lvs.Remove(lv);
                    lvs.Add(to);
                    break;
                case "lv.merging":
                    lvs.Remove(lv);
                    maybe.Add(lv);
                    break;
            }
        }

        return (lvs, maybe);
    }

    private static string? NewName(EventView e)
    {
        if (e.Data is null)
        {
            return null;
        }

        using var doc = JsonDocument.Parse(e.Data);
        return doc.RootElement.EnumerateObject().FirstOrDefault(p => p.Name.Equals("newName", StringComparison.OrdinalIgnoreCase)).Value is { ValueKind: JsonValueKind.String } v ? v.GetString() : null;
    }

    /// <summary>The requests naming an LV and the faults around a moment: what a reader needs to see a violation.</summary>
    internal static IReadOnlyList<string> Excerpt(TortureHistory h, string lv, DateTimeOffset from, DateTimeOffset to)
    {
        var window = TimeSpan.FromSeconds(5);
        var requests = h.Requests
            .Where(r => (r.Op.Lv == lv || r.Op.Arg == lv) && r.Completed >= from - window && r.Invoked <= to + window)
            .Select(r => (r.Invoked, Text: r.ToString()));
        var faults = h.Faults.Where(f => f.End >= from - window && f.Start <= to + window).Select(f => (Invoked: f.Start, Text: f.ToString()));
        return [.. requests.Concat(faults).OrderBy(x => x.Invoked).Select(x => x.Text).Take(20)];
    }

    private static List<string> LastEvents(IReadOnlyList<EventView> events, string lv) =>
        [.. events.Where(e => e.Subject.EndsWith("/" + lv, StringComparison.Ordinal) || (e.Data?.Contains($"\"{lv}\"", StringComparison.Ordinal) ?? false)).TakeLast(6).Select(Line)];

    private static string Line(EventView e) => $"rev {e.Revision} {e.Time:HH:mm:ss.fff} {e.Kind} {e.Subject} by {e.Host} [{e.OperationId}]";
}
