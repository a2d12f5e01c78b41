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
/// Grows the containers' snapshots before they fill, on the host where they are active (the
/// only kernel that knows their usage). LVM's own autoextend is not used: dmeventd would write
/// the shared metadata from this host outside the coordinator, checks every 10 s, and tells
/// nobody. Here the usage is read every <see cref="LlsOptions.WatchIntervalMilliseconds"/>
/// (one <c>dmsetup status</c> for all, only while such snapshots are active here), and a
/// snapshot over the threshold is extended through the coordinator like any change, within
/// its owner's quota; each growth is an event, a metric and a mail, and a snapshot that cannot
/// grow raises the blocked metric (and its alert) and a mail before it overflows.
/// </summary>
public sealed partial class SnapshotGrowth(VolumeService volumes, LvmDriver lvm, DmSetup dm, Mailer mailer, AgentMetrics metrics, AgentOptions options, TimeProvider time, ILogger<SnapshotGrowth> logger)
    : BackgroundService
{
    private static readonly TimeSpan Relist = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan RetryBlocked = TimeSpan.FromSeconds(30);

    private readonly ConcurrentDictionary<string, byte> _growing = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SnapshotSample> _samples = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (string Owner, string Reason, DateTimeOffset RetryAt)> _blocked = new(StringComparer.Ordinal);
    private volatile bool _relist = true;

    /// <summary>An LLS snapshot active here, by its device-mapper name.</summary>
    private sealed record Watched(string Lv, string Owner, string Container, long SizeBytes);

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
                    Check(watched, await dm.StatusAsync(stoppingToken).ConfigureAwait(false), stoppingToken);
                }
            }
            catch (Exception e) when (e is LvmException or VolumeException && !stoppingToken.IsCancellationRequested)
            {
                LogWatchFailed(logger, e.Message);
            }

            await Task.Delay(interval, time, stoppingToken).ConfigureAwait(false);
        }
    }

    private async Task<Dictionary<string, Watched>> WatchedAsync(CancellationToken ct)
    {
        var lvs = await lvm.ListLvsAsync(options.VolumeGroup, ct).ConfigureAwait(false);
        return lvs.Where(l => l.IsSnapshot && l.ActiveLocally)
            .Select(l => (Lv: l, Owner: l.Tags.FirstOrDefault(t => t.StartsWith(LlsNames.OwnerTagPrefix, StringComparison.Ordinal))?[LlsNames.OwnerTagPrefix.Length..]))
            .Where(x => x.Owner is { } o && o.Split('/') is [var host, var container] && host == options.Host && options.Lls.Find(container) is not null)
            .ToDictionary(x => x.Lv.DmName, x => new Watched(x.Lv.Name, x.Owner!, x.Owner!.Split('/')[1], x.Lv.SizeBytes), StringComparer.Ordinal);
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
            var previous = _samples.TryGetValue(line.Device, out var p) && p.TotalSectors == s.TotalSectors ? p : (SnapshotSample?)null;
            _samples[line.Device] = sample;
            if (_growing.ContainsKey(w.Lv) || (_blocked.TryGetValue(w.Lv, out var b) && b.RetryAt > now)
                || GrowthPolicy.Step(previous, sample, w.SizeBytes, options.Lls) is not { } step)
            {
                continue;
            }

            _growing[w.Lv] = 0;
            _ = GrowAsync(w, s.UsedPercent, step, time.GetTimestamp(), ct);
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
            await volumes.ResizeAsync(w.Lv, new ResizeLvBody("+" + SizeSpec.Format(step)), grow: true, new LlsScope(w.Owner, quota), ct).ConfigureAwait(false);
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
            var code = e is VolumeException v ? v.Code : ((LvmException)e).Code;
            var first = !_blocked.ContainsKey(w.Lv);
            _blocked[w.Lv] = (w.Owner, code, time.GetUtcNow() + RetryBlocked);
            PublishBlocked();
            LogBlocked(logger, w.Lv, w.Owner, used, code, e.Message);
            if (first)
            {
                await mailer.SendAsync($"vgmesh: snapshot {w.Lv} of {w.Owner} CANNOT GROW on {options.Host}",
                    $"The snapshot {options.VolumeGroup}/{w.Lv} of {w.Owner} is {used.ToString("0.0", CultureInfo.InvariantCulture)} % full and cannot grow ({code}): {e.Message}\n" +
                    "It becomes invalid when full. Free space in the volume group, raise the container's quota, or delete the snapshot.", ct).ConfigureAwait(false);
            }
        }
        finally
        {
            _growing.TryRemove(w.Lv, out _);
            _relist = true; // its new size, or its being gone
        }
    }

    private void PublishBlocked() => metrics.GrowBlockedNow(_blocked.Values.Select(b => b.Owner));

    [LoggerMessage(EventId = 3621, Level = LogLevel.Information, Message = "LLS snapshot {Lv} of {Owner} at {Used:0.0} %: grown by {Step} bytes, {Seconds:0.000} s after it was seen")]
    private static partial void LogGrown(ILogger logger, string lv, string owner, double used, long step, double seconds);

    [LoggerMessage(EventId = 3622, Level = LogLevel.Warning, Message = "LLS snapshot {Lv} of {Owner} at {Used:0.0} % cannot grow ({Code}): {Reason}")]
    private static partial void LogBlocked(ILogger logger, string lv, string owner, double used, string code, string reason);

    [LoggerMessage(EventId = 3624, Level = LogLevel.Information, Message = "LLS snapshot watch: {Containers} container(s); a snapshot over {Threshold} % grows by {Step} %, read every {Interval} ms while one is active here")]
    private static partial void LogWatching(ILogger logger, int containers, int threshold, int step, int interval);

    [LoggerMessage(EventId = 3625, Level = LogLevel.Information, Message = "LLS snapshot watch: {Count} active here ({Names})")]
    private static partial void LogWatched(ILogger logger, int count, string names);

    [LoggerMessage(EventId = 3623, Level = LogLevel.Warning, Message = "LLS snapshot watch: {Reason}")]
    private static partial void LogWatchFailed(ILogger logger, string reason);
}
