using Microsoft.Extensions.Logging.Abstractions;
using VgMesh.Coordination.SingleHost;

namespace VgMesh.Coordination.Tests;

public sealed class SingleHostNodeTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vgmesh-single-").FullName;

    private string Db => Path.Combine(_dir, "cluster.db");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private async Task<SingleHostNode> StartAsync()
    {
        var node = new SingleHostNode(Db, "solo", TimeProvider.System);
        await node.StartAsync(new MemberInfo("solo", [], "test", DateTimeOffset.UtcNow, []));
        return node;
    }

    [Fact]
    public async Task AlwaysLeader_TokenGrowsPerStart_SecondAgentRefused()
    {
        long first;
        await using (var node = await StartAsync())
        {
            Assert.Equal(LeadershipState.Leader, node.Coordinator.State);
            Assert.Equal("solo", await node.Coordinator.LeaderAsync());
            node.Coordinator.EnsureLeader(TimeSpan.FromSeconds(10));
            first = node.Coordinator.FencingToken;
            Assert.Equal(["solo"], (await node.Members.ListAsync()).Select(m => m.Host));
            var second = new SingleHostNode(Db, "solo", TimeProvider.System);
            var e = await Assert.ThrowsAsync<InvalidOperationException>(() => second.StartAsync(new MemberInfo("solo", [], "t", DateTimeOffset.UtcNow, [])));
            Assert.Contains("in use by another vgmesh agent", e.Message, StringComparison.Ordinal);
        }

        await using var again = await StartAsync();
        Assert.True(again.Coordinator.FencingToken > first);
    }

    [Fact]
    public async Task Queue_IdempotentInOrderOneResult_EventsPersistAcrossRestart()
    {
        var runs = new List<string>();
        await using (var node = await StartAsync())
        {
            using var stop = new CancellationTokenSource();
            var p = new OperationProcessor(node, (op, _) =>
            {
                runs.Add(op.Request.Id);
                return Task.FromResult<OperationOutcome>((
                    new OperationResult(op.Request.Id, OperationStatus.Succeeded, "ok", null, "solo", 0, DateTimeOffset.UtcNow),
                    [new ClusterEvent("test", op.Request.Id, null, 7, op.Request.Id, "solo", DateTimeOffset.UtcNow)]));
            }, TimeProvider.System, NullLogger<OperationProcessor>.Instance).RunAsync(stop.Token);
            var a = await node.Operations.SubmitAsync(new OperationRequest("a", "k", "{}", "solo"));
            Assert.Equal(a.Sequence, (await node.Operations.SubmitAsync(new OperationRequest("a", "k", "{}", "solo"))).Sequence);
            await node.Operations.SubmitAsync(new OperationRequest("b", "k", "{}", "solo"));
            await Assert.ThrowsAsync<OperationConflictException>(() => node.Operations.SubmitAsync(new OperationRequest("b", "other", "{}", "solo")));
            Assert.Equal(OperationStatus.Succeeded, (await node.Operations.WaitAsync("b", TimeSpan.FromSeconds(5))).Status);
            Assert.Equal(OperationStatus.Succeeded, (await node.Operations.WaitAsync("a", TimeSpan.FromSeconds(5))).Status);
            Assert.Equal(["a", "b"], runs);
            await stop.CancelAsync();
            await p;
        }

        await using var reopened = await StartAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        var batches = new List<EventBatch>();
        await foreach (var b in reopened.Events.SubscribeAsync(0, cts.Token))
        {
            batches.Add(b);
            if (batches.Count == 2)
            {
                break;
            }
        }

        Assert.Equal(["a", "b"], batches.Select(b => b.Events.Single().Subject));
        Assert.True(batches[0].Revision < batches[1].Revision);
        await reopened.Events.AcknowledgeAsync(batches[0].Revision);
        var progress = Assert.Single(await reopened.Events.ProgressAsync());
        Assert.Equal(1, progress.LagEvents);
        Assert.Equal(batches[0].Revision, (await reopened.Events.AppliedAsync())[progress.Host]);
        Assert.Equal(OperationStatus.Succeeded, (await reopened.Operations.GetResultAsync("a"))!.Status);
    }
}
