using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using VgMesh.Agent.Api;
using VgMesh.Agent.Operations;
using VgMesh.Agent.Telemetry;
using VgMesh.Client;
using VgMesh.Lvm;
using VgMesh.Lvm.DeviceMapper;

namespace VgMesh.Agent.Lls;

/// <summary>
/// Watches the snapshots of this host's containers: collects the ones unused for
/// <see cref="LlsOptions.CollectUnusedAfterSeconds"/> (never open: nothing reads them, and the
/// space is the VG's), and grows the filling ones before they fill, on the host where they are active (the
/// only kernel that knows their usage). LVM's own autoextend is not used: dmeventd would write
/// the shared metadata from this host outside the coordinator, checks every 10 s, and tells
/// nobody. Here the usage is read every <see cref="LlsOptions.WatchIntervalMilliseconds"/>
/// (device-mapper's status ioctl, no process, only while such snapshots are active here), and a
/// snapshot over the threshold is extended through the coordinator like any change, within
/// its owner's quota; each growth is an event, a metric and a mail, and a snapshot that cannot
/// grow raises the blocked metric (and its alert) and a mail before it overflows.
/// </summary>
public sealed partial class SnapshotWatch(VolumeService volumes, LvmDriver lvm, DmSetup dm, Mailer mailer, SnapshotUse use, LlsService lls, AgentMetrics metrics, AgentOptions options, TimeProvider time, ILogger<SnapshotWatch> logger)
    : BackgroundService
{
    private static readonly TimeSpan Relist = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan RetryBlocked = TimeSpan.FromSeconds(30);

    private readonly ConcurrentDictionary<string, byte> _growing = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _collecting = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Queue<SnapshotSample>> _samples = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (string Owner, string Reason, DateTimeOffset RetryAt)> _blocked = new(StringComparer.Ordinal);
    private volatile bool _relist = true;

    /// <summary>An LLS snapshot of this host's containers; <see cref="Room"/>: how much its owner's quota still lets it grow.</summary>
    private sealed record Watched(string Lv, string Owner, string Container, long SizeBytes, bool Active, long? Room);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (options.Lls.Containers.Length == 0)
        {
            return;
        }

        metrics.LlsOwners(options.Lls.Containers.Select(c => LlsNames.Owner(options.Host, c.Name)));
        var interval = TimeSpan.FromMilliseconds(options.Lls.WatchIntervalMilliseconds);
        LogWatching(logger, options.Lls.Containers.Length, options.Lls.GrowThresholdPercent, options.Lls.GrowStepPercent, options.Lls.WatchIntervalMilliseconds);
        var watched = new Dictionary<string, Watched>(StringComparer.Ordinal);
        var listedAt = DateTimeOffset.MinValue;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (_relist || time.GetUtcNow() - listedAt > Relist)
                {
                    (_relist, listedAt) = (false, time.GetUtcNow());
                    var now = await WatchedAsync(stoppingToken).ConfigureAwait(false);
                    if (!now.Keys.ToHashSet(StringComparer.Ordinal).SetEquals(watched.Keys) && logger.IsEnabled(LogLevel.Information))
                    {
                        var names = string.Join(", ", now.Values.Select(w => w.Lv));
                        LogWatched(logger, now.Count, names);
                    }

                    watched = now;
                }

                if (watched.Count > 0)
                {
                    Check(watched, await dm.StatusOfAsync(watched.Keys, stoppingToken).ConfigureAwait(false), stoppingToken);
                }
            }
            catch (Exception e) when (e is LvmException or VolumeException && !stoppingToken.IsCancellationRequested)
            {
                LogWatchFailed(logger, e.Message);
            }

            await Task.Delay(interval, time, stoppingToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Reads the containers' snapshots (every few seconds), records which are open, collects
    /// those unused for long enough, and returns the active ones (by device-mapper name) to watch.
    /// </summary>
    private async Task<Dictionary<string, Watched>> WatchedAsync(CancellationToken ct)
    {
        var (lvs, vg) = await lvm.ListLvsWithVgAsync(options.VolumeGroup, ct).ConfigureAwait(false);
        try
        {
            await lls.RestrictAsync(lvs, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is VolumeException or LvmException or IOException && !ct.IsCancellationRequested)
        {
            LogRestrictFailed(logger, e.Message); // the growth watch goes on
        }

        var set = LlsQuotaTags.All(vg.Tags);
        var mine = lvs.Where(l => l.IsSnapshot)
            .Select(l => (Lv: l, Owner: LlsNames.OwnerOf(l.Tags)))
            .Where(x => x.Owner is { } o && o.Split('/') is [var host, var container] && host == options.Host && options.Lls.Find(container) is not null)
            .Select(x => (x.Lv, W: new Watched(x.Lv.Name, x.Owner!, x.Owner!.Split('/')[1], x.Lv.SizeBytes, x.Lv.ActiveLocally, Room(x.Lv, x.Owner!, lvs, set.GetValueOrDefault(x.Owner!)))))
            .ToList();
        use.Observe(mine.Select(m => (m.Lv.Name, m.Lv.DeviceOpen)), time.GetUtcNow());
        if (options.Lls.CollectUnusedAfterSeconds > 0)
        {
            var after = TimeSpan.FromSeconds(options.Lls.CollectUnusedAfterSeconds);
            foreach (var (_, w) in mine.Where(m => use.CollectableAt(m.Lv.Name, after) <= time.GetUtcNow()))
            {
                var name = LlsNames.VolumeOf(w.Lv, options.Host, w.Container);
                if (name is not null && !options.Lls.Find(w.Container)!.Keeps(name) && _collecting.TryAdd(w.Lv, 0))
                {
                    _ = CollectAsync(w, name, after, ct);
                }
            }
        }

        return mine.Where(m => m.W.Active).ToDictionary(m => m.Lv.DmName, m => m.W, StringComparer.Ordinal);
    }

    /// <summary>What the owner's quota (the limits set in the VG's tags over the configured ones) still lets this snapshot grow by (null: no limit).</summary>
    private long? Room(VgMesh.Lvm.Reports.LogicalVolume snapshot, string owner, IReadOnlyList<VgMesh.Lvm.Reports.LogicalVolume> all, Dictionary<string, long?>? set)
    {
        var q = LlsQuotaTags.Apply(options.Lls.QuotaOf(options.Lls.Find(owner.Split('/')[1])!), set ?? []);
        var tag = LlsNames.OwnerTag(owner);
        long? room = null;
        if (q.MaxSnapshotBytes is { } ms)
        {
            room = ms - snapshot.SizeBytes;
        }

        if (q.MaxBytes is { } mb)
        {
            var left = mb - all.Where(l => l.Tags.Contains(tag)).Sum(l => l.SizeBytes);
            room = room is { } r ? Math.Min(r, left) : left;
        }

        return room;
    }

    /// <summary>Removes an unused snapshot: its device taken from the container first, then the LV, through the coordinator.</summary>
    private async Task CollectAsync(Watched w, string name, TimeSpan after, CancellationToken ct)
    {
        var why = $"collected: its device was not open for {after.TotalSeconds:0} s (Lls.CollectUnusedAfterSeconds)";
        try
        {
            await lls.RevokeAsync(w.Container, name, ct).ConfigureAwait(false);
            await volumes.RemoveAsync(w.Lv, null, new LlsScope(w.Owner, options.Lls.QuotaOf(options.Lls.Find(w.Container)!), why), ct).ConfigureAwait(false);
            metrics.SnapshotCollected(w.Owner);
            LogCollected(logger, w.Lv, w.Owner, after.TotalSeconds);
        }
        catch (Exception e) when (e is VolumeException or LvmException or IOException && !ct.IsCancellationRequested)
        {
            LogCollectFailed(logger, w.Lv, w.Owner, e.Message);
        }
        finally
        {
            _collecting.TryRemove(w.Lv, out _);
            _relist = true;
        }
    }

    private void Check(Dictionary<string, Watched> watched, IReadOnlyList<DmStatusLine> statuses, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var at = time.GetTimestamp() / (double)time.TimestampFrequency;
        foreach (var line in statuses)
        {
            if (line.Status is not SnapshotStatus { Health: SnapshotHealth.Valid } s || !watched.TryGetValue(line.Device, out var w))
            {
                continue;
            }

            var sample = new SnapshotSample(s.AllocatedSectors, s.TotalSectors, at);
            if (!_samples.TryGetValue(line.Device, out var window) || window.TryPeek(out var first) && first.TotalSectors != s.TotalSectors)
            {
                _samples[line.Device] = window = new Queue<SnapshotSample>(); // new, or grown: its rate starts again
            }

            while (window.TryPeek(out var old) && at - old.AtSeconds > GrowthPolicy.RateWindowSeconds)
            {
                window.Dequeue();
            }

            var previous = window.TryPeek(out var oldest) ? oldest : (SnapshotSample?)null;
            window.Enqueue(sample);
            if (_growing.ContainsKey(w.Lv) || (_blocked.TryGetValue(w.Lv, out var b) && b.RetryAt > now)
                || GrowthPolicy.Step(previous, sample, w.SizeBytes, options.Lls, w.Room) is not { } step)
            {
                continue;
            }

            _growing[w.Lv] = 0;
            _ = step == 0 ? BlockedAsync(w, s.UsedPercent, "over-quota", $"{w.Owner}'s quota leaves {w.Lv} no room to grow", ct)
                : GrowAsync(w, s.UsedPercent, step, time.GetTimestamp(), ct);
        }

        foreach (var gone in _samples.Keys.Where(k => !watched.ContainsKey(k)).ToList())
        {
            _samples.Remove(gone);
        }
    }

    private async Task GrowAsync(Watched w, double used, long step, long seen, CancellationToken ct)
    {
        var quota = options.Lls.QuotaOf(options.Lls.Find(w.Container)!);
        try
        {
            await volumes.ResizeAsync(w.Lv, new ResizeLvBody("+" + SizeSpec.Format(step)), grow: true, new LlsScope(w.Owner, quota), untilApplied: false, ct).ConfigureAwait(false);
            var reaction = time.GetElapsedTime(seen);
            metrics.SnapshotGrown(w.Owner, reaction);
            _blocked.TryRemove(w.Lv, out _);
            PublishBlocked();
            LogGrown(logger, w.Lv, w.Owner, used, step, reaction.TotalSeconds);
            await mailer.SendAsync($"vgmesh: snapshot {w.Lv} of {w.Owner} grown on {options.Host}",
                $"The snapshot {options.VolumeGroup}/{w.Lv} of {w.Owner} was {used.ToString("0.0", CultureInfo.InvariantCulture)} % full " +
                $"(threshold {options.Lls.GrowThresholdPercent} %); it was grown by {SizeSpec.Format(step)} from {SizeSpec.Format(w.SizeBytes)}, {reaction.TotalSeconds.ToString("0.00", CultureInfo.InvariantCulture)} s after it was seen.",
                ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is VolumeException or LvmException && !ct.IsCancellationRequested)
        {
            await BlockedAsync(w, used, e is VolumeException v ? v.Code : ((LvmException)e).Code, e.Message, ct).ConfigureAwait(false);
        }
        finally
        {
            _growing.TryRemove(w.Lv, out _);
            _relist = true; // its new size, or its being gone
        }
    }

    /// <summary>A snapshot that must grow and cannot: the metric now, a mail the first time, another try in 30 s.</summary>
    private async Task BlockedAsync(Watched w, double used, string code, string why, CancellationToken ct)
    {
        try
        {
            var first = !_blocked.ContainsKey(w.Lv);
            _blocked[w.Lv] = (w.Owner, code, time.GetUtcNow() + RetryBlocked);
            PublishBlocked();
            LogBlocked(logger, w.Lv, w.Owner, used, code, why);
            if (first)
            {
                await mailer.SendAsync($"vgmesh: snapshot {w.Lv} of {w.Owner} CANNOT GROW on {options.Host}",
                    $"The snapshot {options.VolumeGroup}/{w.Lv} of {w.Owner} is {used.ToString("0.0", CultureInfo.InvariantCulture)} % full and cannot grow ({code}): {why}\n" +
                    "It becomes invalid when full. Free space in the volume group, raise the container's quota, or delete the snapshot.", ct).ConfigureAwait(false);
            }
        }
        finally
        {
            _growing.TryRemove(w.Lv, out _);
        }
    }

    private void PublishBlocked() => metrics.GrowBlockedNow(_blocked.Values.Select(b => b.Owner));

    [LoggerMessage(EventId = 3621, Level = LogLevel.Information, Message = "LLS snapshot {Lv} of {Owner} at {Used:0.0} %: grown by {Step} bytes, {Seconds:0.000} s after it was seen")]
    private static partial void LogGrown(ILogger logger, string lv, string owner, double used, long step, double seconds);

    [LoggerMessage(EventId = 3622, Level = LogLevel.Warning, Message = "LLS snapshot {Lv} of {Owner} at {Used:0.0} % cannot grow ({Code}): {Reason}")]
    private static partial void LogBlocked(ILogger logger, string lv, string owner, double used, string code, string reason);

    [LoggerMessage(EventId = 3626, Level = LogLevel.Information, Message = "LLS snapshot {Lv} of {Owner} collected: not open for {Seconds:0} s")]
    private static partial void LogCollected(ILogger logger, string lv, string owner, double seconds);

    [LoggerMessage(EventId = 3627, Level = LogLevel.Warning, Message = "LLS snapshot {Lv} of {Owner} not collected: {Reason}")]
    private static partial void LogCollectFailed(ILogger logger, string lv, string owner, string reason);

    [LoggerMessage(EventId = 3624, Level = LogLevel.Information, Message = "LLS snapshot watch: {Containers} container(s); a snapshot over {Threshold} % grows by {Step} %, read every {Interval} ms while one is active here")]
    private static partial void LogWatching(ILogger logger, int containers, int threshold, int step, int interval);

    [LoggerMessage(EventId = 3625, Level = LogLevel.Information, Message = "LLS snapshot watch: {Count} active here ({Names})")]
    private static partial void LogWatched(ILogger logger, int count, string names);

    [LoggerMessage(EventId = 3628, Level = LogLevel.Warning, Message = "LLS device nodes: taking back what a container may no longer have failed: {Reason}")]
    private static partial void LogRestrictFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 3623, Level = LogLevel.Warning, Message = "LLS snapshot watch: {Reason}")]
    private static partial void LogWatchFailed(ILogger logger, string reason);
}
