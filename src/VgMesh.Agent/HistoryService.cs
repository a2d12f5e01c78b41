using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using VgMesh.Coordination;
using VgMesh.Coordination.Etcd;

namespace VgMesh.Agent;

/// <summary>
/// Keeps history from growing without end. Every 10 minutes, on every host, the journal entries
/// finished before the retention are deleted; on the coordinator's host also the operations
/// completed and the events stamped before it. etcd's space quota is 2 GiB by default, and a full
/// etcd refuses every write: no operation could run anywhere in the cluster.
/// </summary>
public sealed partial class HistoryService(AgentOptions options, ClusterRuntime runtime, Journal journal, TimeProvider time, ILogger<HistoryService> logger) : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromMinutes(10);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var node = await runtime.Ready.WaitAsync(stoppingToken).ConfigureAwait(false);
        while (!stoppingToken.IsCancellationRequested)
        {
            await Task.Delay(Interval, time, stoppingToken).ConfigureAwait(false);
            try
            {
                await PruneOnceAsync(node, stoppingToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is NotLeaderException or EtcdException or SqliteException or HttpRequestException && !stoppingToken.IsCancellationRequested)
            {
                LogPruneFailed(logger, e.Message); // the next round tries again
            }
        }
    }

    /// <summary>One round: what was deleted from the journal, the operation queue and the event log.</summary>
    public async Task<(int Intents, int Operations, int Events)> PruneOnceAsync(IClusterNode node, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(node);
        var before = time.GetUtcNow() - TimeSpan.FromHours(options.HistoryRetentionHours);
        var intents = journal.Prune(before);
        int operations = 0, events = 0;
        if (node.Coordinator.State == LeadershipState.Leader)
        {
            // Fenced: a coordinator that lost its place deletes nothing.
            operations = await node.Operations.PruneAsync(before, ct).ConfigureAwait(false);
            events = await node.Events.PruneAsync(before, ct).ConfigureAwait(false);
        }

        if (intents + operations + events > 0)
        {
            LogPruned(logger, intents, operations, events, before);
        }

        return (intents, operations, events);
    }

    [LoggerMessage(EventId = 3501, Level = LogLevel.Information, Message = "history before {Before:O} deleted: {Intents} journal entries, {Operations} operations, {Events} events")]
    private static partial void LogPruned(ILogger logger, int intents, int operations, int events, DateTimeOffset before);

    [LoggerMessage(EventId = 3502, Level = LogLevel.Warning, Message = "history: pruning failed ({Reason}); the next round tries again")]
    private static partial void LogPruneFailed(ILogger logger, string reason);
}
