using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe.Internal;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Cluster;
using Akka.Hosting;
using Npgsql;
using VgMesh.Bench;
using VgMesh.Cluster.Coordinator;
using VgMesh.Cluster.Events;
using VgMesh.Cluster.Hosting;
using VgMesh.Cluster.Leases;
using VgMesh.Cluster.Tests.Coordinator;
using VgMesh.Cluster.Tests.Events;
using VgMesh.Cluster.Tests.Security;
using Xunit.Abstractions;

namespace VgMesh.Cluster.Tests.Hosting;

/// <summary>Three real ActorSystems on loopback, one Akka cluster, a real PostgreSQL journal and lease.</summary>
[Collection(PostgresCollection.Name)]
public sealed class MultiNodeTests(PostgresFixture pg, ITestOutputHelper output) : IAsyncLifetime, IDisposable
{
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(60);
    private readonly List<ClusterNode> _nodes = [];
    private readonly TestCertificates _certs = new();
    private string _journal = "";

    public async Task InitializeAsync() => _journal = await pg.NewDatabaseAsync();

    public async Task DisposeAsync()
    {
        foreach (var n in _nodes)
        {
            await n.DisposeAsync();
        }

    }

    public void Dispose() => _certs.Dispose();

    private async Task<ClusterNode[]> StartCluster(int count)
    {
        var ports = Enumerable.Range(0, count).Select(_ => FreePorts.Next()).ToArray();
        for (var i = 0; i < count; i++)
        {
            // One at a time: the first is the oldest member, so the singleton starts there.
            var node = await LocalCluster.StartAsync(LocalCluster.Options($"node{i + 1}", ports[i], ports[0], _journal, _certs.Node($"node{i + 1}")), new ScriptedHandler());
            _nodes.Add(node);
            await Eventually(() => node.Cluster.SelfMember.Status == MemberStatus.Up, "node" + (i + 1) + " up");
        }

        await Eventually(() => _nodes.All(n => n.Cluster.State.Members.Count(m => m.Status == MemberStatus.Up) == count), "all members up everywhere");
        return [.. _nodes];
    }

    private static OperationRequest Req(string id) => new(id, "lv.create", "{\"lv\":\"" + id + "\"}", "test");

    private static string Show(List<long>[] applied) => string.Join("; ", applied.Select((a, i) => $"node{i + 1}: [{string.Join(",", Snapshot(a))}]"));

    private static async Task Eventually(Func<bool> condition, string what, Func<string>? state = null, TimeSpan? within = null)
    {
        var deadline = DateTime.UtcNow + (within ?? Long);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"not reached: {what} {state?.Invoke()}");
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
        var store = new PostgresLeaseStore(db);
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

        var port = FreePorts.Next();
        var restarted = await LocalCluster.StartAsync(LocalCluster.Options("node1", port, port, _journal, _certs.Node("node1")), new ScriptedHandler());
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

    private static IActorRef Follow(ClusterNode node, string statePath, List<long> applied, Func<EventsCommitted, bool>? drop = null)
    {
        var system = node.System;
        var registry = ActorRegistry.For(system);
        return system.ActorOf(Props.Create(() => new EventFollower(
            new EventFollowerSettings(node.Name, statePath, CoordinatorSettings.DefaultEventsTopic, TimeSpan.FromSeconds(1), TimeSpan.FromMilliseconds(300)),
            new RecordingApplier(applied),
            new SqlJournalReader(system),
            DistributedPubSub.Get(system).Mediator,
            registry.Get<CoordinatorKey>(),
            TimeProvider.System,
            drop)));
    }

    private static long[] Snapshot(List<long> l)
    {
        lock (l)
        {
            return [.. l];
        }
    }

    [Fact]
    public async Task Events_AHostThatDropsSomeAndOneThatRestarts_CatchUpNoneMissedNoneTwice()
    {
        var nodes = await StartCluster(3);
        var dir = Directory.CreateTempSubdirectory("vgmesh-follow-").FullName;
        var applied = Enumerable.Range(0, 3).Select(_ => new List<long>()).ToArray();
        for (var i = 0; i < 3; i++)
        {
            // node2 loses the live copies of events 2 and 3; it must read them from the journal.
            Follow(nodes[i], Path.Combine(dir, $"node{i + 1}.json"), applied[i], i == 1 ? b => b.Events.Any(e => e.Sequence is 2 or 3) : null);
        }

        // Live delivery first, so the drops are real: each follower is subscribed on its own
        // node (the mediator counts local subscribers), and three gossip rounds (1 s each) carry
        // the subscriptions to the other nodes.
        foreach (var n in nodes)
        {
            var mediator = DistributedPubSub.Get(n.System).Mediator;
            await Eventually(() => mediator.Ask<int>(new CountSubscribers(CoordinatorSettings.DefaultEventsTopic), TimeSpan.FromSeconds(3)).GetAwaiter().GetResult() == 1, $"{n.Name} has its subscriber");
        }

        await Task.Delay(TimeSpan.FromSeconds(3));
        for (var k = 1; k <= 6; k++)
        {
            Finished(await nodes[k % 3].Client.SubmitAsync(Req($"op-{k}"), Long, default));
        }

        await Eventually(() => applied.All(a => Snapshot(a).Length >= 6), "every host applied six events", () => Show(applied));

        // node3 restarts as a new ActorSystem with the same state file, after three more events.
        await nodes[2].CrashAsync();
        _nodes.Remove(nodes[2]);
        for (var k = 7; k <= 9; k++)
        {
            Finished(await nodes[0].Client.SubmitAsync(Req($"op-{k}"), Long, default));
        }

        var port = FreePorts.Next();
        var node3 = await LocalCluster.StartAsync(LocalCluster.Options("node3", port, nodes[0].Port, _journal, _certs.Node("node3")), new ScriptedHandler());
        _nodes.Add(node3);
        await Eventually(() => node3.Cluster.SelfMember.Status == MemberStatus.Up, "node3 up again");
        Follow(node3, Path.Combine(dir, "node3.json"), applied[2]);
        Finished(await node3.Client.SubmitAsync(Req("op-10"), Long, default));

        await Eventually(() => applied.All(a => Snapshot(a).Length >= 10), "every host applied ten events", () => Show(applied));
        await Task.Delay(1500); // anything applied twice would show by now
        var expected = Enumerable.Range(1, 10).Select(i => (long)i).ToArray();
        Assert.Equal(expected, Snapshot(applied[0]));
        Assert.Equal(expected, Snapshot(applied[1]));
        Assert.Equal(expected, Snapshot(applied[2]));

        // Every host's acknowledgement reached the coordinator.
        await Eventually(() =>
        {
            var status = nodes[0].Client.StatusAsync(TimeSpan.FromSeconds(3), default).GetAwaiter().GetResult();
            return status is not null && status.Applied.Count(a => a.Sequence == 10) == 3;
        }, "the coordinator knows every host applied 10");
        Directory.Delete(dir, recursive: true);
    }
}
