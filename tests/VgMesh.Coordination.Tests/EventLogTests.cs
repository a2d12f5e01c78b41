using VgMesh.Coordination.Etcd;

namespace VgMesh.Coordination.Tests;

public sealed class EventLogTests : WithEtcd
{
    protected override int Members => 3;

    private static ClusterEvent Ev(int i) => new("test.event", $"vg/lv{i}", $"{{\"i\":{i}}}", i, null, "node1", DateTimeOffset.UtcNow);

    private static async Task<List<EventBatch>> CollectAsync(IEventLog log, long after, int events, TimeSpan within)
    {
        using var cts = new CancellationTokenSource(within);
        var got = new List<EventBatch>();
        await foreach (var b in log.SubscribeAsync(after, cts.Token))
        {
            got.Add(b);
            if (got.Sum(x => x.Events.Count) >= events)
            {
                break;
            }
        }

        return got;
    }

    [Fact]
    public async Task Subscriber_OrderedBatches_RevisionIsSequence()
    {
        await using var nodes = new TestNodes(Etcd, "e1");
        var leader = await nodes.StartAsync("node1");
        await TestNodes.LeaderAmongAsync(leader);
        var r1 = await leader.Events.AppendAsync([Ev(1), Ev(2)]);
        var r2 = await leader.Events.AppendAsync([Ev(3)]);
        var got = await CollectAsync(leader.Events, 0, 3, TimeSpan.FromSeconds(10));
        Assert.Equal([r1, r2], got.Select(b => b.Revision));
        Assert.Equal([1L, 2L, 3L], got.SelectMany(b => b.Events).Select(e => e.VgSeqno!.Value));
    }

    [Fact]
    public async Task Follower_CannotAppend()
    {
        await using var nodes = new TestNodes(Etcd, "e2");
        var a = await nodes.StartAsync("node1");
        await TestNodes.LeaderAmongAsync(a);
        var b = await nodes.StartAsync("node2");
        var e = await Assert.ThrowsAsync<NotLeaderException>(() => b.Events.AppendAsync([Ev(1)]));
        Assert.Equal("node1", e.CurrentLeader);
    }

    [Fact]
    public async Task SubscriberDisconnectedForAWhile_NothingMissedNothingTwice()
    {
        await using var nodes = new TestNodes(Etcd, "e3");
        // The follower talks first to a member that is not raft leader; that member goes silent
        // (SIGSTOP) while events are written through the others.
        var raftLeader = await Etcd.RaftLeaderAsync();
        var silent = Enumerable.Range(0, 3).First(i => i != raftLeader);
        var others = Enumerable.Range(0, 3).Where(i => i != silent).Select(Etcd.Endpoint).ToList();
        var leader = await nodes.StartAsync("node1", endpoints: others);
        await TestNodes.LeaderAmongAsync(leader);
        var follower = await nodes.StartAsync("node2", endpoints: [Etcd.Endpoint(silent), .. others]);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(40));
        var got = new List<EventBatch>();
        var sub = Task.Run(async () =>
        {
            await foreach (var b in follower.Events.SubscribeAsync(0, cts.Token))
            {
                got.Add(b);
                if (got.Sum(x => x.Events.Count) >= 30)
                {
                    return;
                }
            }
        });
        for (var i = 0; i < 10; i++)
        {
            await leader.Events.AppendAsync([Ev(i)]);
        }

        Etcd.Pause(silent);
        try
        {
            for (var i = 10; i < 20; i++)
            {
                await leader.Events.AppendAsync([Ev(i)]);
            }

            await Task.Delay(TimeSpan.FromSeconds(4)); // past the watch's idle timeout
        }
        finally
        {
            Etcd.Resume(silent);
        }

        for (var i = 20; i < 30; i++)
        {
            await leader.Events.AppendAsync([Ev(i)]);
        }

        await sub;
        Assert.Equal(Enumerable.Range(0, 30).Select(i => (long)i), got.SelectMany(b => b.Events).Select(e => e.VgSeqno!.Value));
        Assert.Equal(got.Select(b => b.Revision).Distinct().Count(), got.Count);
        Assert.True(got.Zip(got.Skip(1), (a, b) => a.Revision < b.Revision).All(increasing => increasing));
    }

    [Fact]
    public async Task SubscriberFromACompactedRevision_ReListsThenWatches_NothingMissedNothingTwice()
    {
        await using var nodes = new TestNodes(Etcd, "e4");
        var leader = await nodes.StartAsync("node1");
        await TestNodes.LeaderAmongAsync(leader);
        var start = await leader.Events.AppendAsync([Ev(0)]);
        for (var i = 1; i < 10; i++)
        {
            await leader.Events.AppendAsync([Ev(i)]);
        }

        using var admin = TestNodes.Client(Etcd.Endpoints);
        var now = (await admin.GetAsync(Keys.Of("/"))).Header.Revision;
        await admin.CompactAsync(now);

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var got = new List<EventBatch>();
        var sub = Task.Run(async () =>
        {
            await foreach (var b in leader.Events.SubscribeAsync(start, cts.Token))
            {
                got.Add(b);
                if (got.Sum(x => x.Events.Count) >= 14)
                {
                    return;
                }
            }
        });
        await Task.Delay(500);
        for (var i = 10; i < 15; i++)
        {
            await leader.Events.AppendAsync([Ev(i)]);
        }

        await sub;
        Assert.Equal(Enumerable.Range(1, 14).Select(i => (long)i), got.SelectMany(b => b.Events).Select(e => e.VgSeqno!.Value));
    }

    [Fact]
    public async Task Progress_AppliedRevisionAndLagPerHost()
    {
        await using var nodes = new TestNodes(Etcd, "e5");
        var a = await nodes.StartAsync("node1");
        await TestNodes.LeaderAmongAsync(a);
        var b = await nodes.StartAsync("node2");
        var r1 = await a.Events.AppendAsync([Ev(1)]);
        await a.Events.AppendAsync([Ev(2), Ev(3)]);
        var r3 = await a.Events.AppendAsync([Ev(4)]);
        await a.Events.AcknowledgeAsync(r3);
        await b.Events.AcknowledgeAsync(r1);
        var progress = (await a.Events.ProgressAsync()).ToDictionary(p => p.Host);
        Assert.Equal((r3, 0L), (progress["node1"].AppliedRevision, progress["node1"].LagEvents));
        Assert.Equal(TimeSpan.Zero, progress["node1"].LagTime);
        Assert.Equal((r1, 3L), (progress["node2"].AppliedRevision, progress["node2"].LagEvents));
        Assert.True(progress["node2"].LagTime >= TimeSpan.Zero);
        Assert.Equal(new Dictionary<string, long> { ["node1"] = r3, ["node2"] = r1 }, await b.Events.AppliedAsync());
    }

    [Fact]
    public async Task WatchApplied_NowThenEveryAcknowledgement()
    {
        await using var nodes = new TestNodes(Etcd, "e6");
        var a = await nodes.StartAsync("node1");
        await TestNodes.LeaderAmongAsync(a);
        var b = await nodes.StartAsync("node2");
        var r1 = await a.Events.AppendAsync([Ev(1)]);
        await a.Events.AcknowledgeAsync(r1);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await using var watch = b.Events.WatchAppliedAsync(cts.Token).GetAsyncEnumerator(cts.Token);

        Assert.True(await watch.MoveNextAsync());
        Assert.Equal(new Dictionary<string, long> { ["node1"] = r1 }, watch.Current);
        await b.Events.AcknowledgeAsync(r1);
        Assert.True(await watch.MoveNextAsync());
        Assert.Equal(new Dictionary<string, long> { ["node1"] = r1, ["node2"] = r1 }, watch.Current);
        var r2 = await a.Events.AppendAsync([Ev(2)]);
        await a.Events.AcknowledgeAsync(r2);
        Assert.True(await watch.MoveNextAsync());
        Assert.Equal(new Dictionary<string, long> { ["node1"] = r2, ["node2"] = r1 }, watch.Current);
    }
}
