using Microsoft.Extensions.Hosting;

namespace VgMesh.Agent.Telemetry;

/// <summary>
/// Reads what the gauges need from the cluster store every few seconds (queue depth, leader,
/// this host's progress, its session), so a scrape is answered from memory and never waits on etcd.
/// </summary>
public sealed class MetricsSampler(ClusterRuntime runtime, AgentMetrics metrics, AgentOptions options, TimeProvider time) : BackgroundService
{
    private static readonly TimeSpan Period = TimeSpan.FromSeconds(2);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var node = await runtime.Ready.WaitAsync(stoppingToken).ConfigureAwait(false);
        metrics.LeadershipChanged(node.Coordinator.State);
        node.Coordinator.Changed += (_, change) => metrics.LeadershipChanged(change.State);
        while (!stoppingToken.IsCancellationRequested)
        {
            var session = node.Session;
            var sinceRenewal = session.Ttl - session.TimeLeft;
            try
            {
                var depth = await node.Operations.DepthAsync(stoppingToken).ConfigureAwait(false);
                var leader = await node.Coordinator.LeaderAsync(stoppingToken).ConfigureAwait(false);
                var own = (await node.Events.ProgressAsync(stoppingToken).ConfigureAwait(false)).FirstOrDefault(p => p.Host == options.Host);
                metrics.ObserveCluster(depth, leader is null ? 0 : 1, own, sinceRenewal, session.Ttl);
            }
            catch (Exception e) when (e is Coordination.Etcd.EtcdException or HttpRequestException or TimeoutException && !stoppingToken.IsCancellationRequested)
            {
                // Cut off: what this host knows of the cluster is stale; the renewal delay still tells.
                metrics.ObserveCluster(0, 0, null, sinceRenewal, session.Ttl);
            }

            await Task.Delay(Period, time, stoppingToken).ConfigureAwait(false);
        }
    }
}
