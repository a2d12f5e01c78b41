using VgMesh.Coordination.Etcd;

namespace VgMesh.Coordination.Tests;

public sealed class CoordinatorTests : WithEtcd
{

    [Fact]
    public async Task ThreeNodes_ExactlyOneLeader_AllMembersListed()
    {
        await using var nodes = new TestNodes(Etcd, "c1");
        var a = await nodes.StartAsync("node1");
        var b = await nodes.StartAsync("node2");
        var c = await nodes.StartAsync("node3");
        var leader = await TestNodes.LeaderAmongAsync(a, b, c);
        Assert.Equal(leader.Host, await a.Coordinator.LeaderAsync());
        Assert.All(new[] { a, b, c }.Where(n => n != leader), n => Assert.Equal(LeadershipState.Campaigning, n.Coordinator.State));
        Assert.Equal(["node1", "node2", "node3"], (await b.Members.ListAsync()).Select(m => m.Host));
        Assert.True(leader.Coordinator.FencingToken > 0);
        leader.Coordinator.EnsureLeader(TimeSpan.FromMilliseconds(500));
        Assert.Throws<NotLeaderException>(() => new[] { a, b, c }.First(n => n != leader).Coordinator.EnsureLeader(TimeSpan.Zero));
    }

    [Fact]
    public async Task LeaderSessionExpires_AnotherLeads_OldOneFencedThenCampaignsAgain()
    {
        await using var nodes = new TestNodes(Etcd, "c2");
        var a = await nodes.StartAsync("node1");
        await TestNodes.LeaderAmongAsync(a);
        var b = await nodes.StartAsync("node2");
        var states = new List<LeadershipState>();
        a.Coordinator.Changed += (_, ch) => { lock (states) { states.Add(ch.State); } };
        var leaderWork = a.Coordinator.LeaderToken;

        using var admin = TestNodes.Client(Etcd.Endpoints);
        await admin.LeaseRevokeAsync(a.Session.Id); // what etcd does when the TTL runs out

        await TestNodes.LeaderAmongAsync(b);
        // node1 learns it lost the lease from its leader-key watch or its next keep-alive.
        await TestNodes.EventuallyAsync(() => Task.FromResult(leaderWork.IsCancellationRequested), stopped => stopped, TimeSpan.FromSeconds(3), "node1's leader work stopped");
        await TestNodes.EventuallyAsync(() => Task.FromResult(a.Coordinator.State), s => s == LeadershipState.Campaigning, what: "node1 campaigning again");
        lock (states)
        {
            Assert.Equal(LeadershipState.Fenced, states[0]);
        }

        // node1 rejoined with a new session.
        await TestNodes.EventuallyAsync(() => b.Members.ListAsync(), m => m.Count == 2, what: "node1 back in the member list");
    }

    [Fact]
    public async Task StaleLeader_FencedWriteRefused_NothingLands()
    {
        await using var nodes = new TestNodes(Etcd, "c3");
        var a = await nodes.StartAsync("node1", ttlSeconds: 30); // a long TTL: node1 will not notice the loss by itself soon
        await TestNodes.LeaderAmongAsync(a);
        var b = await nodes.StartAsync("node2");
        var staleToken = a.Coordinator.FencingToken;

        using var admin = TestNodes.Client(Etcd.Endpoints);
        await admin.LeaseRevokeAsync(a.Session.Id);
        await TestNodes.LeaderAmongAsync(b);
        Assert.True(b.Coordinator.FencingToken > staleToken);

        // node1 may still believe it leads: its write is refused and names the real leader.
        var key = Keys.Of("/vgmesh/c3/probe");
        if (a.Coordinator.State == LeadershipState.Leader)
        {
            var e = await Assert.ThrowsAsync<NotLeaderException>(() => a.EtcdCoordinator.FencedTxnAsync([], [RequestOp.Put(key, Keys.Of("stale"))], CancellationToken.None));
            Assert.Equal("node2", e.CurrentLeader);
        }

        await Assert.ThrowsAsync<NotLeaderException>(() => a.EtcdCoordinator.FencedTxnAsync([], [RequestOp.Put(key, Keys.Of("stale"))], CancellationToken.None));
        Assert.Empty((await admin.GetAsync(key)).Kvs);
        Assert.NotEqual(LeadershipState.Leader, a.Coordinator.State);
        var ok = await b.EtcdCoordinator.FencedTxnAsync([], [RequestOp.Put(key, Keys.Of("fresh"))], CancellationToken.None);
        Assert.True(ok.Succeeded);
    }

    [Fact]
    public async Task MembershipWatch_SeesJoinAndDeparture()
    {
        await using var nodes = new TestNodes(Etcd, "c4");
        var a = await nodes.StartAsync("node1");
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var changes = new List<MembershipChange>();
        var watching = Task.Run(async () =>
        {
            await foreach (var ch in a.Members.WatchAsync(cts.Token))
            {
                changes.Add(ch);
                if (changes.Count == 2)
                {
                    return;
                }
            }
        });
        await Task.Delay(300);
        var b = await nodes.StartAsync("node2");
        await b.DisposeAsync(); // revokes its lease: its member key goes at once
        await watching;
        Assert.Equal((MembershipChangeKind.Joined, "node2"), (changes[0].Kind, changes[0].Host));
        Assert.Equal("test", changes[0].Member!.Version);
        Assert.Equal((MembershipChangeKind.Left, "node2"), (changes[1].Kind, changes[1].Host));
    }

    [Fact]
    public async Task KeepAfterStop_LeaseOutlivesTheStop_MemberStaysUntilItsTtl()
    {
        await using var nodes = new TestNodes(Etcd, "c9");
        var a = await nodes.StartAsync("node1");
        var b = await nodes.StartAsync("node2");
        var lease = b.Session.Id;
        b.Session.KeepAfterStop();
        await b.DisposeAsync();

        using var admin = TestNodes.Client(Etcd.Endpoints);
        Assert.True((await admin.LeaseTimeToLiveAsync(lease)).Ttl > 0); // not revoked: it runs out by itself
        Assert.Contains("node2", (await a.Members.ListAsync()).Select(m => m.Host));
        await admin.LeaseRevokeAsync(lease); // what etcd does when the TTL runs out
    }
}
