using Microsoft.Extensions.Logging;

namespace VgMesh.Coordination;

/// <summary>What the leader does with one operation: its result, the events to publish and the catalog changes to make with it.</summary>
public delegate Task<OperationOutcome> OperationHandler(QueuedOperation operation, CancellationToken leaderToken);

public sealed record OperationOutcome(OperationResult Result, IReadOnlyList<ClusterEvent> Events, IReadOnlyList<CatalogWrite>? Catalog = null)
{
    public static implicit operator OperationOutcome((OperationResult Result, IReadOnlyList<ClusterEvent> Events) t) => new(t.Result, t.Events);
}

/// <summary>
/// The leader's loop: while this host leads, take pending operations in submission order, claim
/// each (fenced), run the handler, and record its result and events in one fenced write. When
/// leadership ends, <see cref="ICoordinator.LeaderToken"/> stops the handler first; the next
/// leader finds the claimed operation without a result and runs it as Recovered.
/// </summary>
public sealed partial class OperationProcessor(IClusterNode node, OperationHandler handler, TimeProvider time, ILogger<OperationProcessor> logger)
{
    public async Task RunAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await node.Coordinator.WaitForLeadershipAsync(ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            using var leading = CancellationTokenSource.CreateLinkedTokenSource(ct, node.Coordinator.LeaderToken);
            try
            {
                await foreach (var op in node.Operations.PendingAsync(leading.Token).ConfigureAwait(false))
                {
                    if (!await node.Operations.ClaimAsync(op.Request.Id, leading.Token).ConfigureAwait(false))
                    {
                        continue; // cancelled by its submitter, or done
                    }

                    OperationOutcome outcome;
                    try
                    {
                        outcome = await handler(op, leading.Token).ConfigureAwait(false);
                    }
                    catch (Exception e) when (e is not OperationCanceledException and not NotLeaderException)
                    {
                        outcome = new OperationOutcome(new OperationResult(op.Request.Id, OperationStatus.Failed, e.Message, null, node.Host, 0, time.GetUtcNow()), []);
                    }

                    await node.Operations.CompleteAsync(outcome.Result, outcome.Events, outcome.Catalog, leading.Token).ConfigureAwait(false);
                }
            }
            catch (Exception e) when (e is OperationCanceledException or NotLeaderException or Etcd.EtcdException)
            {
                if (ct.IsCancellationRequested)
                {
                    return;
                }

                LogLeaderWorkStopped(logger, node.Host, e.Message);
                try
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(100), time, ct).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    [LoggerMessage(EventId = 2401, Level = LogLevel.Information, Message = "{Host}: leader work stopped: {Reason}")]
    private static partial void LogLeaderWorkStopped(ILogger logger, string host, string reason);
}
