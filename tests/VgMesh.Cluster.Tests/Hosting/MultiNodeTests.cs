using Akka.Cluster;
using VgMesh.Cluster.Coordinator;
using VgMesh.Cluster.Hosting;
using VgMesh.Cluster.Leases;
using Npgsql;
using Xunit.Abstractions;

namespace VgMesh.Cluster.Tests.Hosting;

/// <summary>Three real ActorSystems on loopback, one Akka cluster, a real PostgreSQL journal and lease.</summary>
[Collection(PostgresCollection.Name)]
public sealed class MultiNodeTests(PostgresFixture pg, ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(60);
    private readonly List<ClusterNode> _nodes = [];
    private string _journal = "";

    public async Task InitializeAsync() => _journal = await pg.NewDatabaseAsync();

    public async Task DisposeAsync()
    {
        foreach (var n in _nodes)
        {
            await n.DisposeAsync();
        }
    }

    private async Task<ClusterNode[]> StartCluster(int count)
    {
        var ports = Enumerable.Range(0, count).Select(_ => ClusterNode.FreePort()).ToArray();
        for (var i = 0; i < count; i++)
        {
            // One at a time: the first is the oldest member, so the singleton starts there.
            var node = await ClusterNode.StartAsync(ClusterNode.Options($"node{i + 1}", ports[i], ports[0], _journal));
            _nodes.Add(node);
            await Eventually(() => node.Cluster.SelfMember.Status == MemberStatus.Up, "node" + (i + 1) + " up");
        }

        await Eventually(() => _nodes.All(n => n.Cluster.State.Members.Count(m => m.Status == MemberStatus.Up) == count), "all members up everywhere");
        return [.. _nodes];
    }

    private static OperationRequest Req(string id) => new(id, "lv.create", "{\"lv\":\"" + id + "\"}", "test");

    private static async Task Eventually(Func<bool> condition, string what, TimeSpan? within = null)
    {
        var deadline = DateTime.UtcNow + (within ?? Long);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"not reached: {what}");
            }

            await Task.Delay(100);
        }
    }

    private static OperationResult Finished(SubmitAnswer a) =>
        a is SubmitAnswer.Finished f ? f.Result : throw new InvalidOperationException($"expected a result, got {a}");

    [Fact]
    public async Task Submit_FromAnyNode_RunsOnceOnTheOldest()
    {
        var nodes = await StartCluster(3);

        var r = Finished(await nodes[2].Client.SubmitAsync(Req("op-1"), Long, default));
        var again = Finished(await nodes[1].Client.SubmitAsync(Req("op-1"), Long, default));

        Assert.Equal("node1", r.CompletedBy);
        Assert.True(r.Generation >= 1);
        Assert.Equal(r, again);
        Assert.Single(nodes[0].Handler.Calls);
        Assert.Empty(nodes[1].Handler.Calls);
        Assert.Empty(nodes[2].Handler.Calls);
    }

    [Fact]
    public async Task Singleton_HolderCrashes_NextOldestTakesOverWithAHigherGeneration()
    {
        var nodes = await StartCluster(3);
        var first = Finished(await nodes[2].Client.SubmitAsync(Req("op-1"), Long, default));

        var crashed = System.Diagnostics.Stopwatch.StartNew();
        await nodes[0].CrashAsync();
        var second = Finished(await nodes[2].Client.SubmitAsync(Req("op-2"), Long, default));
        output.WriteLine($"crash -> first result from the next coordinator: {crashed.ElapsedMilliseconds} ms");
        var replay = Finished(await nodes[1].Client.SubmitAsync(Req("op-1"), Long, default));

        Assert.Equal("node1", first.CompletedBy);
        Assert.Equal("node2", second.CompletedBy);
        Assert.True(second.Generation > first.Generation, $"generation {second.Generation} after {first.Generation}");
        Assert.Equal(first, replay); // recovered from the journal, not run again
        Assert.DoesNotContain(nodes[1].Handler.Calls, c => c.Request.Id == "op-1");
    }

    [Fact]
    public async Task Submit_WhileNoCoordinatorRuns_OutcomeUnknownThenRunsAtMostOnce()
    {
        // Another owner holds the coordinator lease (a coordinator that froze, say): no
        // coordinator can start until that row runs out or is released.
        var nodes = await StartCluster(1);
        var lease = ClusterHostingExtensions.CoordinatorLease(nodes[0].System);
        await using var db = NpgsqlDataSource.Create(_journal);
        var store = new LeaseStore(db);
        await Eventually(() => lease.CheckLease(), "node1 holds the lease");
        await nodes[0].DisposeAsync();
        _nodes.Clear();
        await store.InitializeAsync(default);
        var ghost = await store.TryAcquireAsync(lease.Settings.LeaseName, "ghost", TimeSpan.FromSeconds(8), default);
        while (ghost is null)
        {
            await Task.Delay(200);
            ghost = await store.TryAcquireAsync(lease.Settings.LeaseName, "ghost", TimeSpan.FromSeconds(8), default);
        }

        var port = ClusterNode.FreePort();
        var restarted = await ClusterNode.StartAsync(ClusterNode.Options("node1", port, port, _journal));
        _nodes.Add(restarted);

        var answer = await restarted.Client.SubmitAsync(Req("op-1"), TimeSpan.FromSeconds(3), default);

        var unknown = Assert.IsType<SubmitAnswer.OutcomeUnknown>(answer);
        Assert.Equal("op-1", unknown.OperationId);
        Assert.Empty(restarted.Handler.Calls);

        await store.ReleaseAsync(lease.Settings.LeaseName, "ghost", ghost.Value, default);
        var result = Finished(await restarted.Client.SubmitAsync(Req("op-1"), Long, default));

        Assert.Equal(OperationStatus.Succeeded, result.Status);
        Assert.True(result.Generation > ghost.Value);
        await Task.Delay(500);
        Assert.Single(restarted.Handler.Calls);
    }
}
