using System.Collections.Concurrent;
using Microsoft.Extensions.Logging.Abstractions;
using VgMesh.Bench;
using VgMesh.Coordination.Etcd;

namespace VgMesh.Coordination.Tests;

public sealed class OperationQueueTests : WithEtcd
{

    private readonly ConcurrentDictionary<string, int> _runs = new();

    private OperationProcessor Processor(IClusterNode node) => new(node, (op, _) =>
    {
        _runs.AddOrUpdate(op.Request.Id, 1, (_, n) => n + 1);
        return Task.FromResult<OperationOutcome>((
            new OperationResult(op.Request.Id, OperationStatus.Succeeded, "done", null, node.Host, 0, DateTimeOffset.UtcNow),
            [new ClusterEvent("test.done", op.Request.Id, null, null, op.Request.Id, node.Host, DateTimeOffset.UtcNow)]));
    }, TimeProvider.System, NullLogger<OperationProcessor>.Instance);

    /// <summary>A queue with no node behind it: how a CLI on any host submits, with no leader of its own.</summary>
    private static (EtcdClient Client, EtcdOperationQueue Queue) ClientOnlyQueue(LocalEtcd etcd, string cluster)
    {
        var client = TestNodes.Client(etcd.Endpoints);
        var keys = new ClusterKeys(cluster);
        var coordinator = new EtcdCoordinator(client, keys, "cli", NullLogger.Instance);
        var log = new EtcdEventLog(client, coordinator, keys, "cli", TimeProvider.System);
        return (client, new EtcdOperationQueue(client, coordinator, log, keys, "cli", TimeProvider.System));
    }

    [Fact]
    public async Task SameOperationSubmittedTwice_OneOperationOneRun_ResultAndEventPublished()
    {
        await using var nodes = new TestNodes(Etcd, "q1");
        var a = await nodes.StartAsync("node1");
        var b = await nodes.StartAsync("node2");
        using var stop = new CancellationTokenSource();
        var processing = Task.WhenAll(Processor(a).RunAsync(stop.Token), Processor(b).RunAsync(stop.Token));

        var request = new OperationRequest("op-1", "lv.create", "{\"name\":\"x\"}", "node2");
        var first = await b.Operations.SubmitAsync(request);
        var second = await a.Operations.SubmitAsync(request);
        Assert.Equal(first.Sequence, second.Sequence);
        var result = await b.Operations.WaitAsync("op-1", TimeSpan.FromSeconds(10));
        Assert.Equal(OperationStatus.Succeeded, result.Status);
        Assert.True(result.FencingToken > 0);
        Assert.Equal(result, await a.Operations.WaitAsync("op-1", TimeSpan.FromSeconds(10)));
        await a.Operations.SubmitAsync(request); // after completion too
        await Task.Delay(300);
        Assert.Equal(1, _runs["op-1"]);

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await foreach (var batch in a.Events.SubscribeAsync(0, cts.Token))
        {
            Assert.Equal("op-1", Assert.Single(batch.Events).OperationId);
            break;
        }

        await stop.CancelAsync();
        await processing;
    }

    [Fact]
    public async Task SameIdDifferentRequest_Conflict()
    {
        var (client, queue) = ClientOnlyQueue(Etcd, "q2");
        using (client)
        {
            await queue.SubmitAsync(new OperationRequest("op-2", "lv.create", "{}", "node1"));
            var e = await Assert.ThrowsAsync<OperationConflictException>(() => queue.SubmitAsync(new OperationRequest("op-2", "lv.remove", "{}", "node1")));
            Assert.Contains("op-2", e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task InSubmissionOrder()
    {
        var (client, queue) = ClientOnlyQueue(Etcd, "q3");
        using (client)
        {
            for (var i = 0; i < 10; i++)
            {
                await queue.SubmitAsync(new OperationRequest($"o{i}", "k", "{}", "cli"));
            }

            await using var nodes = new TestNodes(Etcd, "q3");
            var a = await nodes.StartAsync("node1");
            var order = new List<string>();
            using var stop = new CancellationTokenSource();
            var p = new OperationProcessor(a, (op, _) =>
            {
                order.Add(op.Request.Id);
                return Task.FromResult<OperationOutcome>((new OperationResult(op.Request.Id, OperationStatus.Succeeded, "", null, "node1", 0, DateTimeOffset.UtcNow), []));
            }, TimeProvider.System, NullLogger<OperationProcessor>.Instance).RunAsync(stop.Token);
            await queue.WaitAsync("o9", TimeSpan.FromSeconds(10));
            Assert.Equal(Enumerable.Range(0, 10).Select(i => $"o{i}"), order);
            await stop.CancelAsync();
            await p;
        }
    }

    [Fact]
    public async Task NoLeader_WaitIsBounded_OperationCancelledAndNeverRuns()
    {
        var (client, queue) = ClientOnlyQueue(Etcd, "q4");
        using (client)
        {
            await queue.SubmitAsync(new OperationRequest("lonely", "lv.create", "{}", "cli"));
            var result = await queue.WaitAsync("lonely", TimeSpan.FromSeconds(1));
            Assert.Equal(OperationStatus.Cancelled, result.Status);
            Assert.Contains("no coordinator", result.Message, StringComparison.Ordinal);
            Assert.Contains("will not run", result.Message, StringComparison.Ordinal);

            await using var nodes = new TestNodes(Etcd, "q4");
            var a = await nodes.StartAsync("node1");
            using var stop = new CancellationTokenSource();
            var p = Processor(a).RunAsync(stop.Token);
            await TestNodes.LeaderAmongAsync(a);
            await Task.Delay(500);
            Assert.False(_runs.ContainsKey("lonely"));
            Assert.Equal(OperationStatus.Cancelled, (await queue.GetResultAsync("lonely"))!.Status);
            await stop.CancelAsync();
            await p;
        }
    }

    [Fact]
    public async Task SubmittedDuringElection_WaitsThenRunsOnce()
    {
        await using var nodes = new TestNodes(Etcd, "q5");
        var a = await nodes.StartAsync("node1");
        await TestNodes.LeaderAmongAsync(a);
        var b = await nodes.StartAsync("node2");
        using var stop = new CancellationTokenSource();
        var pb = Processor(b).RunAsync(stop.Token);

        // node1 dies without a word (its lease is revoked, as its TTL would run out); submit at once.
        using var admin = TestNodes.Client(Etcd.Endpoints);
        await admin.LeaseRevokeAsync(a.Session.Id);
        await a.DisposeAsync();
        await b.Operations.SubmitAsync(new OperationRequest("during", "lv.create", "{}", "node2"));
        var result = await b.Operations.WaitAsync("during", TimeSpan.FromSeconds(15));
        Assert.Equal(OperationStatus.Succeeded, result.Status);
        Assert.Equal("node2", result.CompletedBy);
        Assert.Equal(1, _runs["during"]);
        await stop.CancelAsync();
        await pb;
    }
}
