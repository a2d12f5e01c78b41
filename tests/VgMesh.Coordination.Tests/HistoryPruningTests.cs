using VgMesh.Coordination.Etcd;
using VgMesh.Coordination.SingleHost;

namespace VgMesh.Coordination.Tests;

/// <summary>Pruning the queue and the event log, against a real etcd and the single-host backend.</summary>
public sealed class HistoryPruningTests : WithEtcd, IDisposable
{
    private static readonly DateTimeOffset Now = DateTimeOffset.UtcNow;
    private static readonly DateTimeOffset Old = Now - TimeSpan.FromDays(2);
    private static readonly DateTimeOffset Cutoff = Now - TimeSpan.FromDays(1);
    private readonly string _dir = Directory.CreateTempSubdirectory("vgmesh-prune-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Submits, claims and completes one operation on the leader, with one event; returns the revision.</summary>
    private static async Task<long> CompleteAsync(IClusterNode leader, string id, DateTimeOffset at)
    {
        await leader.Operations.SubmitAsync(new OperationRequest(id, "lv.create", "{}", leader.Host));
        Assert.True(await leader.Operations.ClaimAsync(id));
        return await leader.Operations.CompleteAsync(
            new OperationResult(id, OperationStatus.Succeeded, "done", null, leader.Host, 0, at),
            [new ClusterEvent("lv.created", "san/" + id, null, 1, id, leader.Host, at)]);
    }

    private static async Task<List<string>> SubscribedSubjectsAsync(IClusterNode node)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        var subjects = new List<string>();
        try
        {
            await foreach (var batch in node.Events.SubscribeAsync(0, cts.Token))
            {
                subjects.AddRange(batch.Events.Select(e => e.Subject));
            }
        }
        catch (OperationCanceledException)
        {
        }

        return subjects;
    }

    [Fact]
    public async Task Etcd_OldCompletedOperationsGo_PendingAndRecentStay_EventsOnlyOnceEveryLiveHostAppliedThem()
    {
        await using var nodes = new TestNodes(Etcd, "prune");
        var a = await nodes.StartAsync("node1");
        var b = await nodes.StartAsync("node2");
        var leader = await TestNodes.LeaderAmongAsync(a, b);
        var follower = leader == a ? b : a;

        var old1 = await CompleteAsync(leader, "old-1", Old);
        var old2 = await CompleteAsync(leader, "old-2", Old);
        await CompleteAsync(leader, "new-1", Now);
        await leader.Operations.SubmitAsync(new OperationRequest("pending-1", "lv.create", "{}", leader.Host));

        // Not the leader: refused, nothing deleted.
        await Assert.ThrowsAsync<NotLeaderException>(() => follower.Operations.PruneAsync(Cutoff));

        // The follower has acknowledged nothing yet: no event goes.
        await leader.Events.AcknowledgeAsync(old2);
        Assert.Equal(0, await leader.Events.PruneAsync(Cutoff));

        // It has applied old-1 only: old-1's event goes, old-2's (old too) waits for it.
        await follower.Events.AcknowledgeAsync(old1);
        Assert.Equal(1, await leader.Events.PruneAsync(Cutoff));
        // What is stored now (a watch from an old revision replays etcd's history until it is compacted).
        using var client = TestNodes.Client(Etcd.Endpoints);
        var stored = await client.GetPrefixAsync(new ClusterKeys("prune").EventsPrefix);
        Assert.Equal(["san/old-2", "san/new-1"], stored.Kvs.Select(kv => System.Text.Json.JsonSerializer.Deserialize(kv.Value, CoordinationJsonContext.Default.ClusterEvent)!.Subject));

        Assert.Equal(2, await leader.Operations.PruneAsync(Cutoff));
        Assert.Null(await follower.Operations.GetResultAsync("old-1"));
        Assert.NotNull(await follower.Operations.GetResultAsync("new-1"));
        Assert.Equal(1, await follower.Operations.DepthAsync()); // pending-1, untouched
        Assert.Equal(0, await leader.Operations.PruneAsync(Cutoff));

        // A forgotten id is a new operation: it queues again, after pending-1.
        var again = await follower.Operations.SubmitAsync(new OperationRequest("old-1", "lv.remove", "{}", follower.Host));
        Assert.Equal(2, await follower.Operations.DepthAsync());
        Assert.Equal("lv.remove", again.Request.Kind);
    }

    [Fact]
    public async Task SingleHost_SameRules()
    {
        await using var node = new SingleHostNode(Path.Combine(_dir, "cluster.db"), "solo", TimeProvider.System);
        await node.StartAsync(new MemberInfo("solo", [], "test", Now, []));
        var old1 = await CompleteAsync(node, "old-1", Old);
        var old2 = await CompleteAsync(node, "old-2", Old);
        await CompleteAsync(node, "new-1", Now);
        await node.Operations.SubmitAsync(new OperationRequest("pending-1", "lv.create", "{}", "solo"));

        Assert.Equal(0, await node.Events.PruneAsync(Cutoff)); // nothing acknowledged yet
        await node.Events.AcknowledgeAsync(old1);
        Assert.Equal(1, await node.Events.PruneAsync(Cutoff));
        await node.Events.AcknowledgeAsync(old2 + 100);
        Assert.Equal(1, await node.Events.PruneAsync(Cutoff));
        Assert.Equal(["san/new-1"], await SubscribedSubjectsAsync(node));

        Assert.Equal(2, await node.Operations.PruneAsync(Cutoff));
        Assert.Null(await node.Operations.GetResultAsync("old-2"));
        Assert.NotNull(await node.Operations.GetResultAsync("new-1"));
        Assert.Equal(1, await node.Operations.DepthAsync());
    }
}
