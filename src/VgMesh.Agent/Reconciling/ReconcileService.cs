using System.Globalization;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using VgMesh.Coordination;
using VgMesh.Lvm;

namespace VgMesh.Agent.Reconciling;

/// <summary>
/// The per-host loop: a pass on every event batch and every reconcile interval. A pass reads
/// both states, lets the reconciler decide, lets the executor act, publishes this host's status
/// and acknowledges the revision it started from (kept on local disk too, so a restart resumes there).
/// </summary>
public sealed partial class ReconcileService(
    ClusterRuntime runtime, StateReader reader, Executor executor, LvmDriver lvm, FencedSet fenced, AgentOptions options, TimeProvider time, ILogger<ReconcileService> logger) : BackgroundService
{
    private readonly Channel<long> _triggers = Channel.CreateBounded<long>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropOldest });
    private long _seen;

    private string AppliedFile => Path.Combine(options.StateDir, "applied-revision");

    /// <summary>Asks for a pass soon (e.g. after this host's own change).</summary>
    public void Poke() => _triggers.Writer.TryWrite(0);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var node = await runtime.Ready.WaitAsync(stoppingToken).ConfigureAwait(false);
        var applied = File.Exists(AppliedFile) ? long.Parse(File.ReadAllText(AppliedFile).Trim(), CultureInfo.InvariantCulture) : 0;
        _seen = applied;
        _ = Task.Run(() => FollowEventsAsync(node, applied, stoppingToken), stoppingToken);
        var interval = TimeSpan.FromSeconds(options.ReconcileIntervalSeconds);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await PassAsync(node, stoppingToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is LvmException or Coordination.Etcd.EtcdException or IOException && !stoppingToken.IsCancellationRequested)
            {
                LogPassFailed(logger, e.Message);
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
                    after = batch.Revision;
                    Volatile.Write(ref _seen, batch.Revision);
                    _triggers.Writer.TryWrite(batch.Revision);
                }
            }
            catch (Exception e) when (e is Coordination.Etcd.EtcdException or HttpRequestException && !ct.IsCancellationRequested)
            {
                await Task.Delay(TimeSpan.FromSeconds(1), time, ct).ConfigureAwait(false);
            }
        }
    }

    private async Task PassAsync(IClusterNode node, CancellationToken ct)
    {
        var revision = Volatile.Read(ref _seen);
        var (desired, actual) = await reader.ReadAsync(ct).ConfigureAwait(false);
        var actions = Reconciler.Plan(desired, actual);
        var alerts = await executor.ExecuteAsync(actions, ct).ConfigureAwait(false);

        // Report what is active here after acting.
        var lvs = await lvm.ListLvsAsync(options.VolumeGroup, ct).ConfigureAwait(false);
        var active = lvs.Where(l => l.ActiveLocally && !l.IsHidden).Select(l => new ActiveLv(l.Name, l.DeviceOpen ? 1 : 0)).ToList();
        var status = new HostStatus(active, alerts, revision, time.GetUtcNow(), [.. fenced.Current]);
        await node.Catalog.PublishOwnAsync(CatalogKeys.StatusOf(options.Host), JsonSerializer.Serialize(status, AgentJsonContext.Default.HostStatus), ct).ConfigureAwait(false);

        if (revision > 0)
        {
            await File.WriteAllTextAsync(AppliedFile + ".tmp", revision.ToString(CultureInfo.InvariantCulture), ct).ConfigureAwait(false);
            File.Move(AppliedFile + ".tmp", AppliedFile, overwrite: true);
            await node.Events.AcknowledgeAsync(revision, ct).ConfigureAwait(false);
        }

        if (actions.Count > 0)
        {
            LogPass(logger, actions.Count, alerts.Count, revision);
        }
    }

    [LoggerMessage(EventId = 3101, Level = LogLevel.Information, Message = "reconcile pass: {Actions} actions, {Alerts} alerts, at revision {Revision}")]
    private static partial void LogPass(ILogger logger, int actions, int alerts, long revision);

    [LoggerMessage(EventId = 3102, Level = LogLevel.Warning, Message = "reconcile pass failed, retrying at the next trigger: {Reason}")]
    private static partial void LogPassFailed(ILogger logger, string reason);
}
