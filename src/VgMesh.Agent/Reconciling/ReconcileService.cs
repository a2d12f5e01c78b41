using System.Globalization;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using VgMesh.Agent.Telemetry;
using VgMesh.Coordination;
using VgMesh.Lvm;
using VgMesh.Lvm.DeviceMapper;

namespace VgMesh.Agent.Reconciling;

/// <summary>
/// The per-host loop: a pass on every event batch and every reconcile interval. A pass reads
/// both states, lets the reconciler decide, lets the executor act, publishes this host's status
/// and acknowledges the revision it started from (kept on local disk too, so a restart resumes there).
/// </summary>
public sealed partial class ReconcileService(
    ClusterRuntime runtime, StateReader reader, Executor executor, LvmDriver lvm, DmSetup dm, ActivationGuard guard, Operations.LocalSteps localSteps, FencedSet fenced, AgentMetrics metrics, AgentOptions options, TimeProvider time, ILogger<ReconcileService> logger) : BackgroundService
{
    private readonly Channel<long> _triggers = Channel.CreateBounded<long>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropOldest });
    private readonly SemaphoreSlim _ackGate = new(1, 1);

    // Passes and handoff activations one at a time: a pass's status, read before an activation
    // and published after it, would hide the activation from the other hosts.
    private readonly SemaphoreSlim _actGate = new(1, 1);
    private long _seen;
    private long _acked;
    private long _quietThrough; // the last batch that asked nothing of this host
    private long _needsPass; // the last batch that needs a pass
    private volatile List<string> _waiting = []; // replaced whole, never changed in place
    private volatile List<string> _claimedSincePass = []; // the same
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> _peersActive = new(StringComparer.Ordinal);
    private volatile HashSet<string> _activeHere = []; // replaced whole, never changed in place
    private volatile bool _passing;

    /// <summary>
    /// Events that change nothing in any host's device-mapper state: the new LV is inactive, a
    /// snapshot was made by the host where its origin is active, a rename needed the LV inactive
    /// everywhere. A host acknowledges them without a pass (if it has applied everything before).
    /// </summary>
    private static readonly HashSet<string> Quiet = new(StringComparer.Ordinal) { "lv.created", "lv.snapshot-created", "lv.renamed" };

    /// <summary>Events that concern only hosts where the LV has a device (and, for a claim, the claimant).</summary>
    private static readonly HashSet<string> QuietWithoutDevice = new(StringComparer.Ordinal) { "lv.extended", "lv.reduced", "lv.removed", "lv.released", "lv.claimed" };

    private string AppliedFile => Path.Combine(options.StateDir, "applied-revision");

    /// <summary>Asks for a pass soon (e.g. after this host's own change).</summary>
    public void Poke() => _triggers.Writer.TryWrite(0);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var node = await runtime.Ready.WaitAsync(stoppingToken).ConfigureAwait(false);
        var applied = File.Exists(AppliedFile) ? long.Parse(File.ReadAllText(AppliedFile).Trim(), CultureInfo.InvariantCulture) : 0;
        _seen = applied;
        _acked = applied;
        _ = Task.Run(() => FollowEventsAsync(node, applied, stoppingToken), stoppingToken);
        _ = Task.Run(() => FollowPeersAsync(node, stoppingToken), stoppingToken);
        var interval = TimeSpan.FromSeconds(options.ReconcileIntervalSeconds);
        while (!stoppingToken.IsCancellationRequested)
        {
            await _actGate.WaitAsync(stoppingToken).ConfigureAwait(false);
            _passing = true;
            try
            {
                await PassAsync(node, stoppingToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is LvmException or Coordination.Etcd.EtcdException or IOException or HttpRequestException && !stoppingToken.IsCancellationRequested)
            {
                metrics.Pass(ok: false, 0);
                LogPassFailed(logger, e.Message);
            }
            finally
            {
                _passing = false;
                _actGate.Release();
            }

            using var wait = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            wait.CancelAfter(interval);
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

    private async Task FollowEventsAsync(IClusterNode node, long after, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await foreach (var batch in node.Events.SubscribeAsync(after, ct).ConfigureAwait(false))
                {
                    var previous = after;
                    after = batch.Revision;
                    Volatile.Write(ref _seen, batch.Revision);
                    var quiet = await QuietHereAsync(batch, ct).ConfigureAwait(false);
                    if (!quiet)
                    {
                        // A handoff's two ends act at once; when that is all the batch asks of this
                        // host, it is acknowledged without a pass (a pass acknowledges a handoff it
                        // waits on in the same way).
                        var handled = new HashSet<string>(await ReleaseMovedAsync(batch, ct).ConfigureAwait(false), StringComparer.Ordinal);
                        handled.UnionWith(await TakeClaimedAsync(batch, ct).ConfigureAwait(false));
                        quiet = handled.Count > 0 && await AllHandledAsync(batch, handled, ct).ConfigureAwait(false);
                    }

                    if (quiet)
                    {
                        // Nothing more to do here: acknowledged now if everything before it is, or
                        // else by the pass in progress when it ends. Never a pass for it: on a busy
                        // host (the coordinator's) every batch behind a pass set off another pass.
                        Volatile.Write(ref _quietThrough, batch.Revision);
                        if (Volatile.Read(ref _acked) >= previous)
                        {
                            await AcknowledgeAsync(node, batch.Revision, ct).ConfigureAwait(false);
                        }
                    }
                    else
                    {
                        Volatile.Write(ref _needsPass, batch.Revision);
                        _triggers.Writer.TryWrite(batch.Revision);
                    }
                }
            }
            catch (Exception e) when (e is Coordination.Etcd.EtcdException or HttpRequestException && !ct.IsCancellationRequested)
            {
                await Task.Delay(TimeSpan.FromSeconds(1), time, ct).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// A pass whenever another host's set of active LVs changes: a handoff's new holder activates
    /// as soon as the old one reports the LV released, not at its next periodic pass. Only the
    /// active set counts, so the status every pass publishes does not set off passes everywhere.
    /// </summary>
    private async Task FollowPeersAsync(IClusterNode node, CancellationToken ct)
    {
        var seen = _peersActive;
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await foreach (var (host, value) in node.Catalog.WatchAsync(CatalogKeys.Status, ct).ConfigureAwait(false))
                {
                    if (host == options.Host)
                    {
                        continue;
                    }

                    var active = value is null ? "" : string.Join(',', JsonSerializer.Deserialize(value, AgentJsonContext.Default.HostStatus)!.Active.Select(a => a.Name).Order(StringComparer.Ordinal));
                    var changed = !seen.TryGetValue(host, out var before) || before != active;
                    seen[host] = active;

                    // Only a host waiting for a handoff cares (or one in a pass, which may be about to
                    // wait on what it read before this change); the others would run a pass for
                    // nothing on every activation anywhere, and slow the hosts that have work.
                    if (changed && (_waiting.Count > 0 || _passing))
                    {
                        await HandOverAsync(ct).ConfigureAwait(false);
                        _triggers.Writer.TryWrite(0);
                    }
                }
            }
            catch (Exception e) when (e is Coordination.Etcd.EtcdException or HttpRequestException or JsonException && !ct.IsCancellationRequested)
            {
                await Task.Delay(TimeSpan.FromSeconds(1), time, ct).ConfigureAwait(false);
            }
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
                if (await guard.CheckAsync(lv, exclusive: true, ct).ConfigureAwait(false) is null)
                {
                    await lvm.ActivateAsync(new LvRef(options.VolumeGroup, lv), ActivationMode.Exclusive, ct).ConfigureAwait(false);
                    _activeHere = [.. _activeHere, lv];
                    await guard.ActivatedAsync(lv, ct).ConfigureAwait(false);
                    metrics.Drift("activate", repaired: true);
                    _waiting = _waiting.Where(w => w != lv).ToList();
                }
            }
        }
        catch (Exception e) when (e is LvmException or Coordination.Etcd.EtcdException or HttpRequestException && !ct.IsCancellationRequested)
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
    private async Task<IReadOnlyList<string>> ReleaseMovedAsync(EventBatch batch, CancellationToken ct)
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
            var alerts = await executor.ExecuteAsync([.. moved.Select(lv => new Deactivate(lv, Unfences: fencedHere.Contains(lv)))], ct).ConfigureAwait(false);
            if (alerts.Count == 0)
            {
                var now = guard.Current;
                var left = now.Active.Where(a => !moved.Contains(a.Name)).ToList();
                _activeHere = left.Select(a => a.Name).ToHashSet(StringComparer.Ordinal);
                await guard.PublishAsync(now with { Active = left, At = time.GetUtcNow(), Fenced = [.. fenced.Current] }, ct).ConfigureAwait(false);
                return moved;
            }
        }
        catch (Exception e) when (e is LvmException or Coordination.Etcd.EtcdException or HttpRequestException && !ct.IsCancellationRequested)
        {
            LogPassFailed(logger, $"handoff release: {e.Message}");
        }
        finally
        {
            _actGate.Release();
        }

        return [];
    }

    /// <summary>True when every event of the batch is one of the handled claims or asks nothing of this host.</summary>
    private async Task<bool> AllHandledAsync(EventBatch batch, HashSet<string> handled, CancellationToken ct)
    {
        foreach (var e in batch.Events)
        {
            var slash = e.Subject.IndexOf('/', StringComparison.Ordinal);
            if (!(e.Kind == "lv.claimed" && slash > 0 && handled.Contains(e.Subject[(slash + 1)..])) && !await QuietHereAsync(batch with { Events = [e] }, ct).ConfigureAwait(false))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// The other end of a handoff, also without waiting for a pass: an LV the batch last claims
    /// exclusively for this host is awaited at once (and activated through the guard as soon as
    /// no other host reports it, which may be now).
    /// </summary>
    /// <returns>The LVs taken over (activated, or awaited until their old holder reports them released).</returns>
    private async Task<IReadOnlyList<string>> TakeClaimedAsync(EventBatch batch, CancellationToken ct)
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

    private static Dictionary<string, LvOperation?> LastClaims(EventBatch batch)
    {
        var last = new Dictionary<string, LvOperation?>(StringComparer.Ordinal);
        foreach (var e in batch.Events.Where(e => e.Kind == "lv.claimed" && e.Subject.Contains('/', StringComparison.Ordinal)))
        {
            last[e.Subject[(e.Subject.IndexOf('/', StringComparison.Ordinal) + 1)..]] = e.Data is null ? null : JsonSerializer.Deserialize(e.Data, AgentJsonContext.Default.LvOperation);
        }

        return last;
    }

    private async Task PassAsync(IClusterNode node, CancellationToken ct)
    {
        var revision = Volatile.Read(ref _seen);
        _claimedSincePass = [];
        var (desired, actual, lvs) = await reader.ReadAsync(ct).ConfigureAwait(false);
        var actions = Reconciler.Plan(desired, actual);
        _waiting = [.. actions.OfType<Alert>().Where(a => a.Code == "handoff-waiting").Select(a => a.Subject).Union(_claimedSincePass)];
        var alerts = await executor.ExecuteAsync(actions, ct).ConfigureAwait(false);

        // Report what is active here after acting (read again only if something was done).
        var active = actions.Any(a => a is not Alert) ? await reader.ActiveNowAsync(lvs, ct).ConfigureAwait(false)
            : lvs.Where(l => l.ActiveLocally && !l.IsHidden).Select(l => new ActiveLv(l.Name, l.DeviceOpen ? 1 : 0)).ToList();
        _activeHere = active.Select(a => a.Name).ToHashSet(StringComparer.Ordinal);
        await guard.PublishAsync(new HostStatus(active, alerts, revision, time.GetUtcNow(), [.. fenced.Current]), ct).ConfigureAwait(false);

        await AcknowledgeAsync(node, revision, ct).ConfigureAwait(false);

        // Batches that arrived during the pass and asked nothing of this host are applied with it.
        var quietThrough = Volatile.Read(ref _quietThrough);
        if (Volatile.Read(ref _needsPass) <= revision && quietThrough > revision)
        {
            await AcknowledgeAsync(node, quietThrough, ct).ConfigureAwait(false);
        }

        metrics.Pass(ok: true, alerts.Count);
        if (actions.Count > 0)
        {
            LogPass(logger, actions.Count, alerts.Count, revision);
        }
    }

    /// <summary>
    /// True when the batch asks nothing of this host's device-mapper state, so acknowledging it
    /// needs no pass: a look in sysfs per event at most, instead of a pass's four reads.
    /// </summary>
    private async Task<bool> QuietHereAsync(EventBatch batch, CancellationToken ct)
    {
        try
        {
            return await QuietCoreAsync(batch, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is LvmException or JsonException)
        {
            return false; // unsure: a full pass decides
        }
    }

    private async Task<bool> QuietCoreAsync(EventBatch batch, CancellationToken ct)
    {
        foreach (var e in batch.Events)
        {
            if (Quiet.Contains(e.Kind) || (e.Kind == "lv.extended" && localSteps.TakeRanHere(e.OperationId)))
            {
                continue;
            }

            var slash = e.Subject.IndexOf('/', StringComparison.Ordinal);
            if (!QuietWithoutDevice.Contains(e.Kind) || slash < 0)
            {
                return false;
            }

            if (e.Kind == "lv.claimed" && (e.Data is null || JsonSerializer.Deserialize(e.Data, AgentJsonContext.Default.LvOperation)?.Host is not { } claimant || claimant == options.Host))
            {
                return false;
            }

            // Active here at the last pass: surely not quiet, no need to ask device-mapper.
            var name = e.Subject[(slash + 1)..];
            if (_activeHere.Contains(name) || await dm.ExistsAsync(LvRef.DmNameOf(options.VolumeGroup, name), ct).ConfigureAwait(false))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Records (on disk, then in the cluster) that this host has applied the revision; never goes back.</summary>
    private async Task AcknowledgeAsync(IClusterNode node, long revision, CancellationToken ct)
    {
        await _ackGate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (revision <= 0 || revision < Volatile.Read(ref _acked))
            {
                return;
            }

            await File.WriteAllTextAsync(AppliedFile + ".tmp", revision.ToString(CultureInfo.InvariantCulture), ct).ConfigureAwait(false);
            File.Move(AppliedFile + ".tmp", AppliedFile, overwrite: true);
            await node.Events.AcknowledgeAsync(revision, ct).ConfigureAwait(false);
            Volatile.Write(ref _acked, revision);
        }
        finally
        {
            _ackGate.Release();
        }
    }

    [LoggerMessage(EventId = 3101, Level = LogLevel.Information, Message = "reconcile pass: {Actions} actions, {Alerts} alerts, at revision {Revision}")]
    private static partial void LogPass(ILogger logger, int actions, int alerts, long revision);

    [LoggerMessage(EventId = 3102, Level = LogLevel.Warning, Message = "reconcile pass failed, retrying at the next trigger: {Reason}")]
    private static partial void LogPassFailed(ILogger logger, string reason);
}
