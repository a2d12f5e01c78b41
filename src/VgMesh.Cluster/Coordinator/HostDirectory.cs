using System.Collections.Immutable;

namespace VgMesh.Cluster.Coordinator;

/// <summary>
/// What one coordinator knows of the hosts: each one's last report and when it last heard from
/// it. Written by the coordinator actor only, read by its operation handler on other threads
/// (immutable maps swapped whole). It lives as long as the coordinator: a new one starts empty
/// and counts every host's silence from its own start, since it cannot know when the last one
/// heard a host.
/// </summary>
public sealed class HostDirectory(TimeProvider time, TimeSpan reportExpiry)
{
    private readonly long _started = time.GetTimestamp();
    private ImmutableDictionary<string, HostReport> _reports = ImmutableDictionary<string, HostReport>.Empty.WithComparers(StringComparer.Ordinal);
    private ImmutableDictionary<string, long> _heard = ImmutableDictionary<string, long>.Empty.WithComparers(StringComparer.Ordinal);

    /// <summary>
    /// The reports of hosts heard from within the expiry: a host silent longer has fenced what it
    /// held (its own deadline is shorter), so what it last reported no longer blocks anyone.
    /// </summary>
    public ImmutableDictionary<string, HostReport> Reports
    {
        get
        {
            var all = Volatile.Read(ref _reports);
            return all.Values.Any(r => Silence(r.Host) > reportExpiry) ? all.RemoveRange(all.Keys.Where(h => Silence(h) > reportExpiry)) : all;
        }
    }

    /// <summary>How long this coordinator has not heard from the host: since its last message, or since this coordinator started.</summary>
    public TimeSpan Silence(string host) =>
        time.GetElapsedTime(Volatile.Read(ref _heard).TryGetValue(host, out var at) ? at : _started);

    public void Heard(string host) => Volatile.Write(ref _heard, _heard.SetItem(host, time.GetTimestamp()));

    /// <returns>True when the set of LVs active on the host changed.</returns>
    public bool Report(HostReport report)
    {
        Heard(report.Host);
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

    /// <summary>The hosts, other than <paramref name="except"/>, whose report has the LV active.</summary>
    public ImmutableArray<string> ActiveOn(string lv, string? except = null) =>
        [.. Reports.Values.Where(r => r.Host != except && r.Active.Any(a => a.Lv == lv)).Select(r => r.Host).Order(StringComparer.Ordinal)];
}
