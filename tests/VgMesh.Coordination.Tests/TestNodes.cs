using Microsoft.Extensions.Logging.Abstractions;
using VgMesh.Bench;
using VgMesh.Coordination.Etcd;

namespace VgMesh.Coordination.Tests;

/// <summary>In-process agents against a real etcd, each with its own client and session.</summary>
internal sealed class TestNodes : IAsyncDisposable
{
    private readonly List<(EtcdClient Client, EtcdClusterNode Node)> _nodes = [];

    public TestNodes(LocalEtcd etcd, string cluster)
    {
        Etcd = etcd;
        Cluster = cluster;
    }

    public LocalEtcd Etcd { get; }

    public string Cluster { get; }

    public static EtcdClient Client(IReadOnlyList<Uri> endpoints, TimeSpan? requestTimeout = null) =>
        new(new EtcdOptions { Endpoints = endpoints, RequestTimeout = requestTimeout ?? TimeSpan.FromSeconds(2), ConnectTimeout = TimeSpan.FromSeconds(1), WatchIdleTimeout = TimeSpan.FromSeconds(3) }, NullLogger<EtcdClient>.Instance);

    public async Task<EtcdClusterNode> StartAsync(string host, double ttlSeconds = 3, IReadOnlyList<Uri>? endpoints = null)
    {
        var client = Client(endpoints ?? Etcd.Endpoints);
        var node = new EtcdClusterNode(client, new ClusterOptions { Cluster = Cluster, Host = host, SessionTtl = TimeSpan.FromSeconds(ttlSeconds) }, TimeProvider.System, NullLoggerFactory.Instance);
        await node.StartAsync(new MemberInfo(host, ["127.0.0.1"], "test", DateTimeOffset.UtcNow, ["lvm"]));
        _nodes.Add((client, node));
        return node;
    }

    public static Task<T> EventuallyAsync<T>(Func<Task<T>> probe, Func<T, bool> ok, TimeSpan? within = null, string what = "condition") =>
        global::VgMesh.Lab.Eventually.UntilAsync(probe, ok, within ?? TimeSpan.FromSeconds(20), what, TimeSpan.FromMilliseconds(50));

    public static Task<EtcdClusterNode> LeaderAmongAsync(params EtcdClusterNode[] nodes) =>
        EventuallyAsync(() => Task.FromResult(nodes.SingleOrDefault(n => n.Coordinator.State == LeadershipState.Leader)!), n => n is not null, what: "one leader");

    public async ValueTask DisposeAsync()
    {
        foreach (var (client, node) in _nodes)
        {
            try
            {
                await node.DisposeAsync();
            }
            catch (ObjectDisposedException)
            {
            }

            client.Dispose();
        }
    }
}
