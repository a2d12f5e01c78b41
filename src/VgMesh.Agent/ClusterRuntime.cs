using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using VgMesh.Agent.Operations;
using VgMesh.Coordination;
using VgMesh.Coordination.Etcd;
using VgMesh.Coordination.SingleHost;

namespace VgMesh.Agent;

/// <summary>Starts this agent's cluster node (etcd, or single-host) and, while it leads, the operation processor.</summary>
public sealed class ClusterRuntime(AgentOptions options, TimeProvider time, ILoggerFactory loggers, IServiceProvider services) : BackgroundService
{
    private readonly TaskCompletionSource<IClusterNode> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private EtcdClient? _etcd;

    public Task<IClusterNode> Ready => _ready.Task;

    public IClusterNode Node => _ready.Task.IsCompletedSuccessfully ? _ready.Task.Result : throw new InvalidOperationException("the agent is still joining the cluster");

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        Directory.CreateDirectory(options.StateDir);
        IClusterNode node;
        if (options.EtcdEndpoints.Length == 0)
        {
            node = new SingleHostNode(Path.Combine(options.StateDir, "cluster.db"), options.Host, time);
        }
        else
        {
            _etcd = new EtcdClient(new EtcdOptions { Endpoints = options.EtcdEndpoints.Select(e => new Uri(e)).ToList() }, loggers.CreateLogger<EtcdClient>());
            node = new EtcdClusterNode(_etcd, new ClusterOptions { Cluster = options.Cluster, Host = options.Host, SessionTtl = TimeSpan.FromSeconds(options.SessionTtlSeconds) }, time, loggers);
        }

        var self = new MemberInfo(options.Host, options.TcpEndPoint() is { } ep ? [ep.ToString()] : [], typeof(ClusterRuntime).Assembly.GetName().Version?.ToString() ?? "0", time.GetUtcNow(), ["lvm", "dm-snapshot"]);
        await node.StartAsync(self, stoppingToken).ConfigureAwait(false);
        _ready.TrySetResult(node);
        var handler = (VolumeOperations)services.GetService(typeof(VolumeOperations))!;
        var processor = new OperationProcessor(node, handler.HandleAsync, time, loggers.CreateLogger<OperationProcessor>());
        try
        {
            await processor.RunAsync(stoppingToken).ConfigureAwait(false);
        }
        finally
        {
            // Revoking the session would end this host's claims at once, with their LVs still
            // active here and no agent to fence them: the coordinator could give them to another
            // host after only the grace period. Held LVs keep the lease to its TTL.
            if (((ClaimCache)services.GetService(typeof(ClaimCache))!).HeldBy(options.Host).Any())
            {
                node.Session.KeepAfterStop();
            }

            await node.DisposeAsync().ConfigureAwait(false);
            _etcd?.Dispose();
        }
    }
}
