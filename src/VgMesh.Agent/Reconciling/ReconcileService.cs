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
    private volatile IReadOnlyList<string> _waiting = [];

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
                    if (Volatile.Read(ref _acked) >= previous && await QuietHereAsync(batch, ct).ConfigureAwait(false))
                    {
                        await AcknowledgeAsync(node, batch.Revision, ct).ConfigureAwait(false);
                    }
                    else
                    {
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
        var seen = new Dictionary<string, string>(StringComparer.Ordinal);
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
                    if (!seen.TryGetValue(host, out var before) || before != active)
                    {
                        seen[host] = active;
                        await HandOverAsync(seen, ct).ConfigureAwait(false);
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
    private async Task HandOverAsync(Dictionary<string, string> peers, CancellationToken ct)
    {
        var ready = _waiting.Where(lv => !peers.Values.Any(active => active.Split(',').Contains(lv, StringComparer.Ordinal))).ToList();
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
                    metrics.Drift("activate", repaired: true);
                    _waiting = _waiting.Where(w => w != lv).ToList();
                }
            }
        }
        catch (LvmException e)
        {
            LogPassFailed(logger, $"handoff activation: {e.Message}");
        }
        finally
        {
            _actGate.Release();
        }
    }

    private async Task PassAsync(IClusterNode node, CancellationToken ct)
    {
        var revision = Volatile.Read(ref _seen);
        var (desired, actual, lvs) = await reader.ReadAsync(ct).ConfigureAwait(false);
        var actions = Reconciler.Plan(desired, actual);
        _waiting = actions.OfType<Alert>().Where(a => a.Code == "handoff-waiting").Select(a => a.Subject).ToList();
        var alerts = await executor.ExecuteAsync(actions, ct).ConfigureAwait(false);

        // Report what is active here after acting (read again only if something was done).
        if (actions.Any(a => a is not Alert))
        {
            lvs = await lvm.ListLvsAsync(options.VolumeGroup, ct).ConfigureAwait(false);
        }

        var active = lvs.Where(l => l.ActiveLocally && !l.IsHidden).Select(l => new ActiveLv(l.Name, l.DeviceOpen ? 1 : 0)).ToList();
        await guard.PublishAsync(new HostStatus(active, alerts, revision, time.GetUtcNow(), [.. fenced.Current]), ct).ConfigureAwait(false);

        await AcknowledgeAsync(node, revision, ct).ConfigureAwait(false);

        metrics.Pass(ok: true, alerts.Count);
        if (actions.Count > 0)
        {
            LogPass(logger, actions.Count, alerts.Count, revision);
        }
    }

    /// <summary>
    /// True when the batch asks nothing of this host's device-mapper state, so acknowledging it
    /// needs no pass: one <c>dmsetup info</c> per event at most, instead of a pass's four reads.
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

            if (await dm.InfoAsync(LvRef.DmNameOf(options.VolumeGroup, e.Subject[(slash + 1)..]), ct).ConfigureAwait(false) is not null)
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
