using System.Collections.Immutable;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using VgMesh.Agent.Lockd;
using VgMesh.Agent.Telemetry;
using VgMesh.Cluster;
using VgMesh.Cluster.Coordinator;
using VgMesh.Cluster.Events;
using VgMesh.Lvm;
using VgMesh.Lvm.DeviceMapper;
using VgMesh.Lvm.OnDisk;

namespace VgMesh.Agent.Reconciling;

/// <summary>
/// The per-host loop: a pass on every event batch that asks something of this host, and every
/// reconcile interval. A pass reads both states, lets the reconciler decide, lets the executor
/// act and reports this host's status to the coordinator. The cluster's events come from the
/// <see cref="EventFollower"/>, in order, each once: a batch is applied (and the follower
/// acknowledges it) once a pass that started after it has ended, or at once when it asks
/// nothing of this host.
/// </summary>
public sealed partial class ReconcileService(
    AgentCluster cluster, StateReader reader, OnDiskMetadata onDisk, DmSetup dm, Executor executor, EventTriage triage, ActivationGuard guard, HostActivity activity, FencedSet fenced, StorageState storage, LockdState lockd, AgentMetrics metrics, AgentOptions options, TimeProvider time, ILogger<ReconcileService> logger) : BackgroundService, IEventApplier
{
    private readonly Channel<long> _triggers = Channel.CreateBounded<long>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropOldest });
    private readonly Lock _waitGate = new();
    private readonly List<(long Sequence, TaskCompletionSource Done)> _passWaiters = [];

    // Passes, handoff activations and delegated commands one at a time: a pass's status, read
    // before an activation and published after it, would hide the activation from the other hosts.
    private readonly HostActivity _actGate = activity;
    private long _seen;
    private volatile List<string> _waiting = []; // replaced whole, never changed in place
    private volatile List<string> _claimedSincePass = []; // the same
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> _peersActive = new(StringComparer.Ordinal);
    private volatile HashSet<string> _activeHere = []; // replaced whole, never changed in place
    private volatile bool _passing;
    private string? _lastFailure;
    private long _lastFailureLogged;
    private HashSet<string> _alertsLogged = []; // the last pass's, by the pass loop only
    private volatile IReadOnlyDictionary<string, string> _uuidsOfNames = new Dictionary<string, string>(StringComparer.Ordinal); // from the last pass's report

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        cluster.HostsChanged += (_, m) => _ = Task.Run(() => OnHostsChangedAsync(m, stoppingToken), stoppingToken);
        cluster.Contact.ReportWanted += (_, _) => _ = Task.Run(() => RepublishAsync(stoppingToken), stoppingToken);
        var interval = TimeSpan.FromSeconds(options.ReconcileIntervalSeconds);
        if (options.DeviceWatchMilliseconds > 0)
        {
            _ = Task.Run(() => WatchDevicesAsync(stoppingToken), stoppingToken);
        }

        if (options.MetadataWatchMilliseconds > 0)
        {
            _ = Task.Run(() => WatchMetadataAsync(stoppingToken), stoppingToken);
        }

        var failed = false;
        while (!stoppingToken.IsCancellationRequested)
        {
            await _actGate.WaitAsync(stoppingToken).ConfigureAwait(false);
            _passing = true;
            try
            {
                await PassAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is LvmException or Operations.VolumeException or IOException or HttpRequestException && !stoppingToken.IsCancellationRequested)
            {
                metrics.Pass(ok: false, 0);
                // Retried every second: logged when the reason changes, else once a minute.
                if (e.Message != _lastFailure || time.GetElapsedTime(_lastFailureLogged) > TimeSpan.FromMinutes(1))
                {
                    (_lastFailure, _lastFailureLogged) = (e.Message, time.GetTimestamp());
                    LogPassFailed(logger, e.Message);
                }

                failed = true;
            }
            finally
            {
                _passing = false;
                _actGate.Release();
            }

            // After a failed pass, the next one soon: until a pass reports this host, the
            // coordinator refuses what needs to know where LVs are active.
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            wait.CancelAfter(failed ? TimeSpan.FromSeconds(1) : interval);
            failed = false;
            try
            {
                await _triggers.Reader.ReadAsync(wait.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
            {
                // The periodic pass: repairs drift from commands run by hand.
            }
        }
    }

    /// <summary>
    /// Starts a pass as soon as this host's top devices of the VG differ from what the agent
    /// believes active here, i.e. something activated or deactivated an LV without it (a hand-run
    /// <c>lvchange</c>); the pass's audit then finds an LV active on two hosts within a second,
    /// not at the next period. Not while a pass or a handoff acts (their own changes), and once
    /// per change seen: a difference the pass leaves as it is (a hidden LV's device) does not
    /// start pass after pass. The periodic pass stays the backstop.
    /// </summary>
    private async Task WatchDevicesAsync(CancellationToken ct)
    {
        var every = TimeSpan.FromMilliseconds(options.DeviceWatchMilliseconds);
        IReadOnlySet<string> seen = new HashSet<string>(StringComparer.Ordinal);
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(every, time, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            if (reader.LastVolumeGroup is not { } vg || _passing || _actGate.Busy)
            {
                continue;
            }

            var tops = dm.SysfsTopLvUuids(vg.Uuid);
            if (tops is null)
            {
                return; // no device-mapper in sysfs: the periodic pass only
            }

            if (tops.SetEquals(seen))
            {
                continue;
            }

            seen = tops;
            var uuids = _uuidsOfNames;
            var believed = _activeHere.Select(n => uuids.GetValueOrDefault(n)).OfType<string>().ToHashSet(StringComparer.Ordinal);
            if (!tops.SetEquals(believed))
            {
                if (logger.IsEnabled(LogLevel.Information))
                {
                    var appeared = string.Join(", ", tops.Except(believed).Select(u => NameOf(uuids, u)));
                    var gone = string.Join(", ", believed.Except(tops).Select(u => NameOf(uuids, u)));
                    LogDevicesChanged(logger, appeared, gone);
                }

                _triggers.Writer.TryWrite(0);
            }
        }
    }

    /// <summary>
    /// Drift within a second: reads the PV's metadata header (one O_DIRECT sector, no LVM
    /// process) every <see cref="AgentOptions.MetadataWatchMilliseconds"/>; when it has moved, reads
    /// the new text and compares each LV active here with its table's size. A difference (an
    /// <c>lvextend</c> run by hand on another host, or a coordinator's change this host's event has
    /// not brought yet) is brought at once (<see cref="Reconciler.PlanDrift"/>: no <c>lvs</c>,
    /// which in a lab host takes half a second): a grown linear table loaded from the metadata
    /// (<see cref="GrowTable"/>), anything else by LVM's refresh; equal sizes start nothing, so the coordinator's
    /// own changes cost one read here. The periodic pass stays the backstop for the rest of a
    /// change made by hand (an LV created or removed) and where the PV has no metadata area.
    /// </summary>
    private async Task WatchMetadataAsync(CancellationToken ct)
    {
        var every = TimeSpan.FromMilliseconds(options.MetadataWatchMilliseconds);
        MetadataFingerprint? last = null;
        string? failure = null;
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(every, time, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            if (reader.LastVolumeGroup is not { } vg)
            {
                continue;
            }

            try
            {
                if (await onDisk.ReadAsync(vg.Name, ct).ConfigureAwait(false) is not var (now, text))
                {
                    return; // no metadata area here: the periodic pass only
                }

                if (now == last)
                {
                    continue;
                }

                last = now;
                if (dm.SysfsTopLvSizes(vg.Uuid) is not { } tops)
                {
                    return; // no device-mapper in sysfs: the periodic pass only
                }

                var refresh = Reconciler.PlanDrift(text, tops, _activeHere, fenced.Current, LiveTable, onDisk.PvNumber);
                if (refresh.Count > 0)
                {
                    if (logger.IsEnabled(LogLevel.Information))
                    {
                        var names = string.Join(", ", refresh.Select(a => $"{a.Subject} ({(a is GrowTable ? "table grown" : "refresh")})"));
                        LogMetadataDrift(logger, text.Seqno, names);
                    }

                    // Under the table gate: not while anything acts, but while a pass only
                    // reads (it may have read the VG before the change, and a growth changes
                    // nothing its report says). A full pass only when that could not be done:
                    // after every change it would cost each host a pass (an lvs) for each of
                    // the coordinator's own changes too, which events already bring.
                    var done = false;
                    if (await _actGate.WaitTablesAsync(TimeSpan.FromSeconds(10), ct).ConfigureAwait(false))
                    {
                        try
                        {
                            done = (await executor.ExecuteAsync(refresh, ct).ConfigureAwait(false)).Acted.Count == refresh.Count;
                        }
                        finally
                        {
                            _actGate.ReleaseTables();
                        }
                    }

                    if (!done)
                    {
                        _triggers.Writer.TryWrite(0);
                    }
                }

                failure = null;
            }
            catch (Exception e) when (e is IOException or FormatException or UnauthorizedAccessException or LvmException && !ct.IsCancellationRequested)
            {
                // Opened again at the next look (a PV's path can change under multipath).
                last = null;
                if (e.Message != failure)
                {
                    failure = e.Message;
                    LogMetadataWatchFailed(logger, e.Message);
                }
            }
        }
    }

    /// <summary>A top device's live table, without a process; null when it cannot be read (LVM's refresh then does it all).</summary>
    private static IReadOnlyList<DmTableLine>? LiveTable(string device)
    {
        try
        {
            return DmIoctl.ReadTable(device);
        }
        catch (Exception e) when (e is LvmException or IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static string NameOf(IReadOnlyDictionary<string, string> uuidsOfNames, string uuid) =>
        uuidsOfNames.FirstOrDefault(kv => kv.Value == uuid).Key ?? $"uuid {uuid}";

    /// <summary>Applies one batch of cluster events here (the follower calls it, one batch at a time).</summary>
    public async Task ApplyAsync(ImmutableArray<SequencedEvent> events, CancellationToken ct)
    {
        var last = events.IsEmpty ? 0 : events[^1].Sequence;
        var batch = events.Select(e => e.Event).ToList();
        Volatile.Write(ref _seen, last);
        var quiet = await triage.QuietHereAsync(batch, _activeHere, ct).ConfigureAwait(false);
        if (!quiet)
        {
            // A handoff's two ends act at once; when that is all the batch asks of this host,
            // it is applied without a pass.
            var handled = new HashSet<string>(await ReleaseMovedAsync(batch, ct).ConfigureAwait(false), StringComparer.Ordinal);
            handled.UnionWith(await TakeClaimedAsync(batch, ct).ConfigureAwait(false));
            quiet = handled.Count > 0 && await triage.AllHandledAsync(batch, handled, _activeHere, ct).ConfigureAwait(false);
        }

        if (!quiet)
        {
            // Applied once a pass that read the state after these events has ended.
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_waitGate)
            {
                _passWaiters.Add((last, done));
            }

            _triggers.Writer.TryWrite(last);
            await done.Task.WaitAsync(ct).ConfigureAwait(false);
        }
    }

    /// <summary>Events this host missed were pruned from the journal: a full pass, which reads the state itself, stands in for them.</summary>
    public async Task ResyncAsync(CancellationToken ct)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_waitGate)
        {
            // Any pass that starts from now on reads the metadata as it is, which is what counts.
            _passWaiters.Add((Volatile.Read(ref _seen), done));
        }

        _triggers.Writer.TryWrite(0);
        await done.Task.WaitAsync(ct).ConfigureAwait(false);
    }

    /// <summary>
    /// A pass whenever another host's set of active LVs changes, for a host waiting on a handoff
    /// (or in a pass, which may be about to wait on what it read before the change): its new
    /// holder activates as soon as the old one reports the LV released. A new coordinator gets
    /// this host's report at once.
    /// </summary>
    private async Task OnHostsChangedAsync(IClusterMessage m, CancellationToken ct)
    {
        try
        {
            switch (m)
            {
                case CoordinatorReady:
                    await RepublishAsync(ct).ConfigureAwait(false);
                    break;
                case HostReported { Report: var r }:
                    _peersActive[r.Host] = string.Join(',', r.Active.Select(a => a.Lv).Order(StringComparer.Ordinal));
                    if (_waiting.Count > 0 || _passing)
                    {
                        await HandOverAsync(ct).ConfigureAwait(false);
                        _triggers.Writer.TryWrite(0);
                    }
                    else if (r.Host != options.Host && r.Active.Any(a => !a.Announced && _activeHere.Contains(a.Lv)))
                    {
                        // Another host reports active an LV active here: the pass's audit decides
                        // whether a claim lets both (shared) or not, at once rather than at the next period.
                        _triggers.Writer.TryWrite(0);
                    }

                    break;
            }
        }
        catch (Exception e) when (e is LvmException or Operations.VolumeException or OperationCanceledException)
        {
            LogPassFailed(logger, $"after a report from the cluster: {e.Message}");
        }
    }

    /// <summary>A coordinator lacks this host's report (it just started, or says so in a ping's answer): sent again.</summary>
    private async Task RepublishAsync(CancellationToken ct)
    {
        try
        {
            await guard.RepublishAsync(ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    /// <summary>
    /// The end of a handoff, without waiting for a pass: an LV this host's last pass found
    /// claimed here but still active elsewhere is activated (through the guard) as soon as no
    /// other host reports it.
    /// </summary>
    private async Task HandOverAsync(CancellationToken ct)
    {
        var ready = _waiting.Where(lv => !_activeHere.Contains(lv) && !_peersActive.Values.Any(active => active.Split(',').Contains(lv, StringComparer.Ordinal))).ToList();
        if (ready.Count == 0)
        {
            return;
        }

        await _actGate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            foreach (var lv in ready.Where(_waiting.Contains))
            {
                // The executor asks the activation guard first, as for any activation.
                if ((await executor.ExecuteAsync([new Activate(lv, Exclusive: true)], ct).ConfigureAwait(false)).Acted.Count > 0)
                {
                    _activeHere = [.. _activeHere, lv];
                    await guard.ActivatedAsync(lv, ct).ConfigureAwait(false);
                    _waiting = _waiting.Where(w => w != lv).ToList();
                }
            }
        }
        catch (Exception e) when (e is LvmException or Operations.VolumeException or HttpRequestException && !ct.IsCancellationRequested)
        {
            LogPassFailed(logger, $"handoff activation: {e.Message}");
        }
        finally
        {
            _actGate.Release();
        }
    }

    /// <summary>
    /// The start of a handoff, without waiting for a pass's reads: an LV active here whose claim
    /// the batch last gives exclusively to another host is deactivated at once. Deactivating never
    /// puts an LV on two hosts, and an open device refuses it (the pass that follows raises the
    /// alert, re-checks everything and acknowledges).
    /// </summary>
    /// <returns>The LVs released.</returns>
    private async Task<IReadOnlyList<string>> ReleaseMovedAsync(IReadOnlyList<ClusterEvent> batch, CancellationToken ct)
    {
        var moved = LastClaims(batch).Where(c => c.Value is { Exclusive: true, Host: { } h } && h != options.Host && _activeHere.Contains(c.Key)).Select(c => c.Key).ToList();
        if (moved.Count == 0)
        {
            return [];
        }

        await _actGate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            var fencedHere = fenced.Current;
            var done = await executor.ExecuteAsync([.. moved.Select(lv => new Deactivate(lv, Unfences: fencedHere.Contains(lv)))], ct).ConfigureAwait(false);
            // Reported released only once its device is gone: a deactivation skipped as "not
            // found" (LVM no longer knows the name) leaves the device, which the pass then handles.
            var devices = dm.SysfsNames();
            if (done.Alerts.Count == 0 && (devices is null || !moved.Any(lv => devices.Contains(LvRef.DmNameOf(options.VolumeGroup, lv)))))
            {
                var now = guard.Current;
                // What still has a device: the moved LVs' snapshots went with them.
                var left = now.Active.Where(a => !moved.Contains(a.Name) && (devices is null || devices.Contains(LvRef.DmNameOf(options.VolumeGroup, a.Name)))).ToList();
                _activeHere = left.Select(a => a.Name).ToHashSet(StringComparer.Ordinal);
                await guard.PublishAsync(now with { Active = left, At = time.GetUtcNow(), Fenced = [.. fenced.Current] }, ct).ConfigureAwait(false);
                return moved;
            }
        }
        catch (Exception e) when (e is LvmException or Operations.VolumeException or HttpRequestException && !ct.IsCancellationRequested)
        {
            LogPassFailed(logger, $"handoff release: {e.Message}");
        }
        finally
        {
            _actGate.Release();
        }

        return [];
    }

    /// <summary>
    /// The other end of a handoff, also without waiting for a pass: an LV the batch last claims
    /// exclusively for this host is awaited at once (and activated through the guard as soon as
    /// no other host reports it, which may be now).
    /// </summary>
    /// <returns>The LVs taken over (activated, or awaited until their old holder reports them released).</returns>
    private async Task<IReadOnlyList<string>> TakeClaimedAsync(IReadOnlyList<ClusterEvent> batch, CancellationToken ct)
    {
        var claimed = LastClaims(batch).Where(c => c.Value is { Exclusive: true, Host: { } h } && h == options.Host && !_activeHere.Contains(c.Key)).Select(c => c.Key).ToList();
        if (claimed.Count == 0)
        {
            return [];
        }

        // A pass in progress read the claims before this event: it must not drop these.
        _claimedSincePass = [.. _claimedSincePass.Union(claimed)];
        _waiting = [.. _waiting.Union(claimed)];
        await HandOverAsync(ct).ConfigureAwait(false);
        return claimed;
    }

    private static Dictionary<string, LvOperation?> LastClaims(IReadOnlyList<ClusterEvent> batch)
    {
        var last = new Dictionary<string, LvOperation?>(StringComparer.Ordinal);
        foreach (var e in batch.Where(e => e.Kind == "lv.claimed"))
        {
            if (EventTriage.LvOf(e) is { } lv)
            {
                last[lv] = e.Data is null ? null : JsonSerializer.Deserialize(e.Data, AgentJsonContext.Default.LvOperation);
            }
        }

        return last;
    }

    private async Task PassAsync(CancellationToken ct)
    {
        var revision = Volatile.Read(ref _seen);
        _claimedSincePass = [];
        // Only reading until the plan: a table grown by the drift watch meanwhile is harmless.
        _actGate.LendTables();
        var (desired, actual, lvs) = await reader.ReadAsync(ct).ConfigureAwait(false);
        await _actGate.ReclaimTablesAsync(ct).ConfigureAwait(false);
        _uuidsOfNames = desired.Lvs.Values.ToDictionary(l => l.Name, l => l.Uuid, StringComparer.Ordinal);
        var actions = Reconciler.Plan(desired, actual);
        _waiting = [.. actions.OfType<Alert>().Where(a => a.Code == "handoff-waiting").Select(a => a.Subject).Union(_claimedSincePass)];
        var alerts = (await executor.ExecuteAsync(actions, ct).ConfigureAwait(false)).Alerts;
        LogAlertChanges(actions.OfType<Alert>().ToList());

        // Report what is active here after acting (read again only if something was done).
        var active = actions.Any(a => a is not Alert) ? await reader.ActiveNowAsync(lvs, ct).ConfigureAwait(false)
            : lvs.Where(l => l.ActiveLocally && !l.IsHidden).Select(l => new ActiveLv(l.Name, l.DeviceOpen ? 1 : 0)).ToList();
        _activeHere = active.Select(a => a.Name).ToHashSet(StringComparer.Ordinal);
        await guard.PublishAsync(new HostStatus(active, alerts, revision, time.GetUtcNow(), [.. fenced.Current], Storage: storage.Current, Lockd: lockd.Current), ct).ConfigureAwait(false);

        // The batches this pass read the state after are applied.
        lock (_waitGate)
        {
            _passWaiters.RemoveAll(w =>
            {
                if (w.Sequence > revision)
                {
                    return false;
                }

                w.Done.TrySetResult();
                return true;
            });
        }

        metrics.DoubleActive([.. actions.OfType<Alert>().Where(a => a.Code == Reconciler.DoubleActiveCode).Select(a => a.Subject)]);
        metrics.Pass(ok: true, alerts.Count);
        if (actions.Count > 0)
        {
            LogPass(logger, actions.Count, alerts.Count, revision);
        }
    }

    [LoggerMessage(EventId = 3101, Level = LogLevel.Information, Message = "reconcile pass: {Actions} actions, {Alerts} alerts, after event {Revision}")]
    private static partial void LogPass(ILogger logger, int actions, int alerts, long revision);

    /// <summary>A lasting alert is logged when a pass first raises it and when one no longer does, not on every pass.</summary>
    private void LogAlertChanges(List<Alert> raised)
    {
        var now = raised.Select(a => $"{a.Code}: {a.Subject}").ToHashSet(StringComparer.Ordinal);
        foreach (var a in raised.Where(a => !_alertsLogged.Contains($"{a.Code}: {a.Subject}")))
        {
            LogAlert(logger, a.Code, a.Message);
        }

        foreach (var gone in _alertsLogged.Where(k => !now.Contains(k)))
        {
            LogAlertEnded(logger, gone);
        }

        _alertsLogged = now;
    }

    [LoggerMessage(EventId = 3002, Level = LogLevel.Warning, Message = "reconcile alert {Code}: {Message}")]
    private static partial void LogAlert(ILogger logger, string code, string message);

    [LoggerMessage(EventId = 3005, Level = LogLevel.Information, Message = "reconcile alert ended: {Alert}")]
    private static partial void LogAlertEnded(ILogger logger, string alert);

    [LoggerMessage(EventId = 3103, Level = LogLevel.Information, Message = "device-mapper changed without the agent (appeared: {Appeared}; gone: {Gone}): a pass now")]
    private static partial void LogDevicesChanged(ILogger logger, string appeared, string gone);

    [LoggerMessage(EventId = 3104, Level = LogLevel.Information, Message = "the VG's metadata (seqno {Seqno}) gives other sizes than this host's tables for {Lvs}: refreshing them")]
    private static partial void LogMetadataDrift(ILogger logger, long seqno, string lvs);

    [LoggerMessage(EventId = 3105, Level = LogLevel.Warning, Message = "cannot read the PV's metadata area, so drift is seen at the periodic pass only until it can: {Reason}")]
    private static partial void LogMetadataWatchFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 3102, Level = LogLevel.Warning, Message = "reconcile pass failed, retrying at the next trigger: {Reason}")]
    private static partial void LogPassFailed(ILogger logger, string reason);
}
