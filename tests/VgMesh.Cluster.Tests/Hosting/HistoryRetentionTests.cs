using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using VgMesh.Bench;
using VgMesh.Cluster.Coordinator;
using VgMesh.Cluster.Events;
using VgMesh.Cluster.Hosting;
using VgMesh.Cluster.Tests.Coordinator;
using VgMesh.Cluster.Tests.Events;

namespace VgMesh.Cluster.Tests.Hosting;

/// <summary>
/// The coordinator's history retention on the real journal (Akka.Persistence.Sql on PostgreSQL):
/// rows past the retention are deleted from the database, and a host that needs events that are
/// gone resyncs once, then applies what the journal still has.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class HistoryRetentionTests(PostgresFixture pg) : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);
    private readonly string _dir = Directory.CreateTempSubdirectory("vgmesh-retention-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static async Task<T> Until<T>(Func<Task<T>> probe, Func<T, bool> ok, string what)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (true)
        {
            var value = await probe();
            if (ok(value))
            {
                return value;
            }

            Assert.True(DateTime.UtcNow < deadline, $"{what}: not within {Wait.TotalSeconds} s");
            await Task.Delay(200);
        }
    }

    [Fact]
    public async Task PastTheRetention_RowsLeavePostgres_AndAHostThatNeedsThemResyncsOnce()
    {
        var port = FreePorts.Next();
        var options = new ClusterNodeOptions
        {
            Host = "node1",
            Hostname = "127.0.0.1",
            Port = port,
            SeedNodes = [$"127.0.0.1:{port}"],
            ExpectedHosts = 1,
            JournalConnectionString = await pg.NewDatabaseAsync(),
            AllowPlaintextRemoting = true,
            HistoryRetention = TimeSpan.FromSeconds(1),
            HistoryEvery = TimeSpan.FromMilliseconds(200),
        };
        await using var node = await LocalCluster.StartAsync(options, new ScriptedHandler());
        var journal = new SqlJournalReader(node.System);
        foreach (var id in new[] { "op-1", "op-2" })
        {
            Assert.IsType<SubmitAnswer.Finished>(await node.Client.SubmitAsync(new OperationRequest(id, "lv.create", "{}", "node1"), Wait, default));
        }

        // Events 1 and 2 leave the journal's table once a mark older than the retention covers them.
        await Until(() => journal.ReadAfterAsync(0, default), b => b.SelectMany(x => x.Events).All(e => e.Sequence > 2), "events 1-2 deleted from PostgreSQL");
        var op3 = Assert.IsType<SubmitAnswer.Finished>(await node.Client.SubmitAsync(new OperationRequest("op-3", "lv.create", "{}", "node1"), Wait, default)).Result;
        Assert.Equal(3, op3.LastEventSequence);

        // A host that has applied nothing yet: events 1-2 are gone, so it resyncs, then applies 3.
        var applied = new List<long>();
        var settings = new EventFollowerSettings("node2", Path.Combine(_dir, "applied.json"), CoordinatorSettings.DefaultEventsTopic, null, null);
        var mediator = DistributedPubSub.Get(node.System).Mediator;
        node.System.ActorOf(Props.Create(() => new EventFollower(settings, new RecordingApplier(applied), journal, mediator, ActorRefs.Nobody, TimeProvider.System, null)));
        var seen = await Until(() => { lock (applied) { return Task.FromResult(applied.ToArray()); } }, a => a.Contains(3), "the follower applies event 3");
        Assert.Equal(-1, seen[0]);
        Assert.Equal(1, seen.Count(s => s == -1));
        Assert.DoesNotContain(1L, seen);
        Assert.DoesNotContain(2L, seen);
    }
}
