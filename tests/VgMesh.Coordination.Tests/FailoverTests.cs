using Microsoft.Extensions.Logging.Abstractions;
using VgMesh.Bench;
using VgMesh.Coordination.Etcd;

namespace VgMesh.Coordination.Tests;

/// <summary>Agents as real processes: killed with SIGKILL, frozen with SIGSTOP.</summary>
public sealed class FailoverTests : WithEtcd
{
    private readonly List<MemberProcess> _members = [];

    public override async Task DisposeAsync()
    {
        _members.ForEach(m => m.Dispose());
        await base.DisposeAsync();
    }

    private MemberProcess Start(string cluster, string host, int workMs = 0, int writeEveryMs = 0)
    {
        var m = MemberProcess.Start(Etcd.Endpoints, cluster, host, ttlSeconds: 3, workMs, writeEveryMs);
        _members.Add(m);
        return m;
    }

    private static Task<MemberProcess> LeaderAsync(IEnumerable<MemberProcess> members, long aboveToken = 0) =>
        TestNodes.EventuallyAsync(
            () => Task.FromResult(members.FirstOrDefault(m => m.Find("fenced-write").Any(r => r.GetProperty("token").GetInt64() > aboveToken))!),
            m => m is not null, TimeSpan.FromSeconds(30), "a leader whose fenced write succeeded");

    private static long Token(MemberProcess m) => m.Find("fenced-write").Last().GetProperty("token").GetInt64();

    [Fact]
    public async Task LeaderProcessKilled_AnotherLeads_ItsFencedWriteSucceeds()
    {
        var all = new[] { Start("f1", "node1"), Start("f1", "node2"), Start("f1", "node3") };
        var first = await LeaderAsync(all);
        var token = Token(first);
        first.Kill();
        var killedAt = DateTimeOffset.UtcNow;
        var next = await LeaderAsync(all.Where(m => m != first), token);
        Assert.NotEqual(first.Host, next.Host);
        var wroteAt = DateTimeOffset.FromUnixTimeMilliseconds(next.Find("fenced-write").Last().GetProperty("ms").GetInt64());
        // The lease of the dead leader has to run out first: TTL 3 s, then the campaign.
        Assert.InRange(wroteAt - killedAt, TimeSpan.Zero, TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task LeaderFrozenPastItsLease_NothingItWritesAfterANewLeaderLands()
    {
        var a = Start("f2", "node1", writeEveryMs: 100);
        await LeaderAsync([a]);
        var b = Start("f2", "node2");
        await TestNodes.EventuallyAsync(() => Task.FromResult(a.Find("write").Count()), n => n > 3, what: "node1 writing");
        a.Pause();
        var newLeader = await LeaderAsync([b]);

        // The token is the create revision of node2's campaign key, which may predate the pause
        // (node1 still led then); node2 leads from its first fenced write on.
        var bToken = newLeader.Find("fenced-write").Last().GetProperty("revision").GetInt64();
        await Task.Delay(TimeSpan.FromSeconds(1));
        a.Resume();
        // node1 wakes up believing it leads; it keeps trying to write for a while.
        await TestNodes.EventuallyAsync(() => Task.FromResult(a.Find("state", "Fenced").Any() || a.Find("write-refused").Any()), x => x, TimeSpan.FromSeconds(10), "node1 notices");
        await Task.Delay(TimeSpan.FromSeconds(1));

        using var c = TestNodes.Client(Etcd.Endpoints);
        var writes = await c.GetPrefixAsync(Keys.Of("/vgmesh/f2/bench/writes/node1/"));
        Assert.NotEmpty(writes.Kvs);
        Assert.All(writes.Kvs, kv => Assert.True(kv.ModRevision < bToken, $"a write of node1 landed at {kv.ModRevision}, after node2 led (its first fenced write landed at {bToken})"));
        Assert.All(a.Find("write"), w => Assert.True(w.GetProperty("revision").GetInt64() < bToken));
        Assert.True(a.Find("write-refused").Any() || a.Find("state", "Fenced").Any());
    }

    [Fact]
    public async Task OperationsBeforeDuringAndAfterLeaderKill_EachCompletesExactlyOnce()
    {
        var all = new[] { Start("f3", "node1", workMs: 150), Start("f3", "node2", workMs: 150), Start("f3", "node3", workMs: 150) };
        var leader = await LeaderAsync(all);
        using var client = TestNodes.Client(Etcd.Endpoints);
        var keys = new ClusterKeys("f3");
        var coordinator = new EtcdCoordinator(client, keys, "cli", NullLogger.Instance);
        var queue = new EtcdOperationQueue(client, coordinator, new EtcdEventLog(client, coordinator, keys, "cli", TimeProvider.System), keys, "cli", TimeProvider.System);

        var ids = new List<string>();
        async Task SubmitAsync(string phase, int n)
        {
            for (var i = 0; i < n; i++)
            {
                var id = $"{phase}-{i}";
                ids.Add(id);
                await queue.SubmitAsync(new OperationRequest(id, "bench", "{}", "cli"));
            }
        }

        await SubmitAsync("before", 6);
        await Task.Delay(400); // the leader is in the middle of them
        leader.Kill();
        await SubmitAsync("during", 6);
        var next = await LeaderAsync(all.Where(m => m != leader), Token(leader));
        await SubmitAsync("after", 6);

        foreach (var id in ids)
        {
            var r = await queue.WaitAsync(id, TimeSpan.FromSeconds(30));
            Assert.True(r.Status == OperationStatus.Succeeded, $"{id}: {r.Status} {r.Message}");
            var runs = await client.GetPrefixAsync(Keys.Of($"/vgmesh/f3/bench/runs/{id}/"));
            Assert.True(runs.Kvs.Count == 1, $"{id} ran {runs.Kvs.Count} times");
        }

        Assert.NotEqual(leader.Host, next.Host);
    }

    [Fact]
    public async Task ThreeEtcdMembers_OneDownFine_TwoDownFailsClearly_RecoversWhenOneReturns()
    {
        await using var etcd3 = await LocalEtcd.StartAsync(members: 3);
        await using var nodes = new TestNodes(etcd3, "f4");
        var a = await nodes.StartAsync("node1");
        await TestNodes.LeaderAmongAsync(a);
        using var stop = new CancellationTokenSource();
        var processing = new OperationProcessor(a, (op, _) => Task.FromResult<OperationOutcome>((new OperationResult(op.Request.Id, OperationStatus.Succeeded, "", null, "node1", 0, DateTimeOffset.UtcNow), [])), TimeProvider.System, NullLogger<OperationProcessor>.Instance).RunAsync(stop.Token);
        using var cli = TestNodes.Client(etcd3.Endpoints, TimeSpan.FromSeconds(1));

        etcd3.Kill(2);
        await a.Operations.SubmitAsync(new OperationRequest("one-down", "k", "{}", "node1"));
        Assert.Equal(OperationStatus.Succeeded, (await a.Operations.WaitAsync("one-down", TimeSpan.FromSeconds(15))).Status);

        etcd3.Kill(1);
        var e = await Assert.ThrowsAnyAsync<EtcdException>(() => cli.PutAsync(Keys.Of("/vgmesh/f4/probe"), Keys.Of("x")));
        Assert.True(e is EtcdUnavailableException or EtcdOutcomeUnknownException, e.GetType().Name);

        etcd3.Restart(1);
        await etcd3.WaitHealthyAsync();
        await TestNodes.EventuallyAsync(async () =>
        {
            try
            {
                await a.Operations.SubmitAsync(new OperationRequest("recovered", "k", "{}", "node1"));
                return true;
            }
            catch (EtcdException)
            {
                return false;
            }
        }, ok => ok, TimeSpan.FromSeconds(30), "a submission after quorum returned");
        Assert.Equal(OperationStatus.Succeeded, (await a.Operations.WaitAsync("recovered", TimeSpan.FromSeconds(30))).Status);
        await stop.CancelAsync();
        await processing;
    }
}
