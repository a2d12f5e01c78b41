using System.Collections.Immutable;

namespace VgMesh.Cluster.Coordinator;

/// <summary>
/// What one coordinator knows of the hosts: each one's last report, when it last heard from it,
/// and since when the cluster has put it out (downed or removed). Written by the coordinator actor
/// only, read by its operation handler on other threads (immutable maps swapped whole). It lives
/// as long as the coordinator: a new one starts empty and counts every host's silence from its
/// own start, since it cannot know when the last one heard a host.
/// </summary>
/// <param name="reportExpiry">A host silent this long has fenced what it held, if it fences by itself (it sees no majority).</param>
/// <param name="goneGrace">How long the cluster must have put a host out before its report stops counting: a host that still sees a majority fences only once it hears of its downing.</param>
/// <param name="isGone">Whether the cluster has put the host out (no member of that name joining, up or leaving); null: silence alone decides (tests of the coordinator without a cluster).</param>
/// <param name="storageFencing">The LUN fences by reservation: a report stops counting only once its host's registration has been preempted (<see cref="FencedByStorage"/>), never by silence.</param>
public sealed class HostDirectory(TimeProvider time, TimeSpan reportExpiry, TimeSpan goneGrace = default, Func<string, bool>? isGone = null, bool storageFencing = false)
{
    private readonly long _started = time.GetTimestamp();
    private ImmutableDictionary<string, HostReport> _reports = ImmutableDictionary<string, HostReport>.Empty.WithComparers(StringComparer.Ordinal);
    private ImmutableDictionary<string, long> _heard = ImmutableDictionary<string, long>.Empty.WithComparers(StringComparer.Ordinal);
    private ImmutableDictionary<string, long> _goneSince = ImmutableDictionary<string, long>.Empty.WithComparers(StringComparer.Ordinal);
    private ImmutableHashSet<string> _expired = ImmutableHashSet<string>.Empty.WithComparer(StringComparer.Ordinal);
    private ImmutableHashSet<string> _asked = ImmutableHashSet<string>.Empty.WithComparer(StringComparer.Ordinal);
    private ImmutableHashSet<string> _storageFenced = ImmutableHashSet<string>.Empty.WithComparer(StringComparer.Ordinal);

    /// <summary>
    /// The reports that still count. A report stops counting only when its host has been silent
    /// past the expiry (by then it has fenced, if it fences by itself: it saw no majority) *and*
    /// the cluster has put it out for the grace (a host cut off from the coordinator alone still
    /// sees a majority, and fences only when it hears of its downing). Silence alone is not enough:
    /// before 2026-12-05 it was, and a handoff begun just before its holder vanished let the new
    /// holder activate 7 s into the silence, about when the resolver downs the old one.
    /// </summary>
    public ImmutableDictionary<string, HostReport> Reports
    {
        get
        {
            var all = Volatile.Read(ref _reports);
            return all.Values.Any(r => Expired(r.Host)) ? all.RemoveRange(all.Keys.Where(Expired)) : all;
        }
    }

    /// <summary>
    /// With storage fencing, the only way: the host's writes are refused by the target from the
    /// preemption on, whatever it does (a paused host that resumes included), whereas a host
    /// that is merely silent may still be writing. Without it, silence past the expiry and the
    /// cluster's verdict, trusting the host to have fenced itself meanwhile.
    /// </summary>
    private bool Expired(string host) =>
        storageFencing
            ? IsFencedByStorage(host)
            : Silence(host) > reportExpiry && (isGone is null || GoneFor(host) >= goneGrace);

    /// <summary>The host's registration on the LUN has been preempted: its report stops counting now.</summary>
    public void FencedByStorage(string host) => ImmutableInterlocked.Update(ref _storageFenced, s => s.Add(host));

    /// <summary>Whether the cluster has the host out now (false where membership is not known).</summary>
    public bool IsOut(string host) => isGone?.Invoke(host) ?? false;

    /// <summary>Whether the host's registration was preempted and it has not reported since.</summary>
    public bool IsFencedByStorage(string host) => Volatile.Read(ref _storageFenced).Contains(host);

    /// <summary>Every host with a report, counting or not: the ones a storage fence may be owed.</summary>
    public IEnumerable<string> Reporters => Volatile.Read(ref _reports).Keys;

    /// <summary>
    /// How long the cluster has had the host out, as far as this coordinator has seen (zero while
    /// it is a member). A host this coordinator never heard of (a holder cut off before it started)
    /// is watched from the first question on.
    /// </summary>
    public TimeSpan GoneFor(string host)
    {
        if (Volatile.Read(ref _goneSince).TryGetValue(host, out var since))
        {
            return time.GetElapsedTime(since);
        }

        ImmutableInterlocked.Update(ref _asked, a => a.Add(host));
        return TimeSpan.Zero;
    }

    /// <summary>
    /// Notes which hosts the cluster has put out, and since when (the coordinator calls this a few
    /// times a second: a host is counted out from the first time it is seen out, never earlier).
    /// </summary>
    /// <returns>The hosts whose report stopped counting since the last call: the others wait on them no more.</returns>
    public IReadOnlyList<string> ObserveMembership()
    {
        if (isGone is not null)
        {
            var now = time.GetTimestamp();
            var gone = _goneSince;
            foreach (var host in _reports.Keys.Union(_heard.Keys).Union(Volatile.Read(ref _asked)))
            {
                gone = isGone(host) ? (gone.ContainsKey(host) ? gone : gone.SetItem(host, now)) : gone.Remove(host);
            }

            Volatile.Write(ref _goneSince, gone);
        }

        var expired = _reports.Keys.Where(Expired).ToImmutableHashSet(StringComparer.Ordinal);
        var newly = expired.Except(_expired).Order(StringComparer.Ordinal).ToList();
        _expired = expired;
        return newly;
    }


    /// <summary>How long this coordinator has not heard from the host: since its last message, or since this coordinator started.</summary>
    public TimeSpan Silence(string host) =>
        time.GetElapsedTime(Volatile.Read(ref _heard).TryGetValue(host, out var at) ? at : _started);

    public void Heard(string host) => Volatile.Write(ref _heard, _heard.SetItem(host, time.GetTimestamp()));

    /// <returns>True when the set of LVs active on the host changed.</returns>
    public bool Report(HostReport report)
    {
        Heard(report.Host);
        // Back, and registered again (its agent registers only after fencing what it held).
        ImmutableInterlocked.Update(ref _storageFenced, s => s.Remove(report.Host));
        var before = _reports.GetValueOrDefault(report.Host);
        Volatile.Write(ref _reports, _reports.SetItem(report.Host, report));
        return before is null || !before.Active.Select(a => a.Lv).Order(StringComparer.Ordinal).SequenceEqual(report.Active.Select(a => a.Lv).Order(StringComparer.Ordinal), StringComparer.Ordinal);
    }

    /// <summary>Counts the LV as active on the host from now on, until its next report says otherwise.</summary>
    public void Announce(string host, string lv, DateTimeOffset at)
    {
        var report = _reports.GetValueOrDefault(host) ?? new HostReport(host, [], "", at);
        if (report.Active.All(a => a.Lv != lv))
        {
            Volatile.Write(ref _reports, _reports.SetItem(host, report with { Active = report.Active.Add(new ReportedLv(lv, 0, Announced: true)) }));
        }
    }

    /// <summary>
    /// The hosts of <paramref name="live"/> (cluster members now), other than
    /// <paramref name="except"/>, that have not reported to this coordinator: any of them may have
    /// any LV active (an agent restarted just now, before its first pass), so their absence from
    /// the reports proves nothing.
    /// </summary>
    public ImmutableArray<string> NotReported(IEnumerable<string> live, string? except = null)
    {
        var reports = Reports;
        return [.. live.Where(h => h != except && !reports.ContainsKey(h)).Order(StringComparer.Ordinal)];
    }

    /// <summary>The hosts, other than <paramref name="except"/>, whose report has the LV active.</summary>
    public ImmutableArray<string> ActiveOn(string lv, string? except = null) =>
        [.. Reports.Values.Where(r => r.Host != except && r.Active.Any(a => a.Lv == lv)).Select(r => r.Host).Order(StringComparer.Ordinal)];
}
