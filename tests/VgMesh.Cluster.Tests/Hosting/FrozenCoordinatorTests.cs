using Akka.Cluster;
using Akka.Persistence.Query;
using Akka.Persistence.Sql.Query;
using Akka.Streams;
using VgMesh.Bench;
using VgMesh.Cluster.Coordinator;
using VgMesh.Cluster.Tests.Coordinator;
using VgMesh.Cluster.Tests.Security;
using Xunit.Abstractions;

namespace VgMesh.Cluster.Tests.Hosting;

/// <summary>
/// The coordinator's node frozen (SIGSTOP) in the middle of an operation, past every timeout,
/// then thawed: by then another node holds the lease under a higher generation and has run the
/// operation to its end. The thawed node writes nothing more: no "LVM command" (each is checked
/// against the lease right before it starts) and no journal entry after the new generation's.
/// Nodes are separate processes, as a real freeze needs.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class FrozenCoordinatorTests(PostgresFixture pg, ITestOutputHelper output) : IDisposable
{
    private readonly TestCertificates _certs = new();
    private readonly string _dir = Directory.CreateTempSubdirectory("vgmesh-frozen-").FullName;
    private readonly List<AkkaMemberProcess> _members = [];

    public void Dispose()
    {
        foreach (var m in _members)
        {
            m.Dispose();
        }

        foreach (var m in _members)
        {
            output.WriteLine($"--- {m.Host} log (tail) ---");
            foreach (var line in File.ReadLines(m.LogPath).TakeLast(15))
            {
                output.WriteLine(line);
            }
        }

        _certs.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private static async Task Eventually(Func<bool> condition, string what, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("not reached: " + what);
            }

            await Task.Delay(100);
        }
    }

    [Fact]
    public async Task FrozenPastItsLease_WritesNothingAfterTheNewGeneration()
    {
        var journal = await pg.NewDatabaseAsync();
        var ports = Enumerable.Range(0, 3).Select(_ => FreePorts.Next()).ToArray();
        var seed = $"127.0.0.1:{ports[0]}";
        for (var i = 0; i < 3; i++)
        {
            _members.Add(AkkaMemberProcess.Start(_dir, $"node{i + 1}", ports[i], seed, journal, _certs.Node($"node{i + 1}"), stepMs: 3000));
            if (i == 0)
            {
                await Task.Delay(3000); // node1 first, so it is the oldest and runs the coordinator
            }
        }

        // The observer joins last, so it is the youngest and never next in line for the singleton.
        // Whichever member leads (the lowest address, not necessarily node1) logs each move to Up.
        await Eventually(() =>
        {
            var logs = string.Concat(_members.Select(m => File.ReadAllText(m.LogPath)));
            return ports.All(p => logs.Contains($"127.0.0.1:{p}] to [Up]", StringComparison.Ordinal));
        }, "three members up", TimeSpan.FromSeconds(90));
        var observerPort = FreePorts.Next();
        await using var observer = await LocalCluster.StartAsync(LocalCluster.Options("observer", observerPort, ports[0], journal, _certs.Node("observer")), new ScriptedHandler());
        await Eventually(() => observer.Cluster.State.Members.Count(m => m.Status == MemberStatus.Up) == 4, "four members up", TimeSpan.FromSeconds(90));
        var node1 = _members[0];

        var first = await observer.Client.SubmitAsync(new OperationRequest("op-1", "bench", "{}", "observer"), TimeSpan.FromSeconds(60), default);
        Assert.Equal("node1", Assert.IsType<SubmitAnswer.Finished>(first).Result.CompletedBy);

        // op-2 starts on node1; node1 freezes between its two commands.
        var second = observer.Client.SubmitAsync(new OperationRequest("op-2", "bench", "{}", "observer"), TimeSpan.FromSeconds(90), default);
        await Eventually(() => node1.Commands.Any(c => c.Op == "op-2" && c.Step == 1), "node1 ran op-2's first command", TimeSpan.FromSeconds(30));
        node1.Pause();
        var frozenAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

        var secondResult = Assert.IsType<SubmitAnswer.Finished>(await second).Result;
        var third = Assert.IsType<SubmitAnswer.Finished>(await observer.Client.SubmitAsync(new OperationRequest("op-3", "bench", "{}", "observer"), TimeSpan.FromSeconds(60), default)).Result;
        output.WriteLine($"op-2 finished by {secondResult.CompletedBy} under generation {secondResult.Generation}, {secondResult.CompletedAt.ToUnixTimeMilliseconds() - frozenAt} ms after the freeze");

        node1.Resume();
        await Task.Delay(TimeSpan.FromSeconds(6)); // the thawed node's timers fire, its handler wakes, its actors run

        var oldGeneration = Assert.IsType<SubmitAnswer.Finished>(first).Result.Generation;
        Assert.NotEqual("node1", secondResult.CompletedBy);
        Assert.True(secondResult.Generation > oldGeneration);
        Assert.Equal(secondResult.CompletedBy, third.CompletedBy);

        // No command from node1 after the freeze: op-2's second step was refused on thaw.
        var node1Commands = node1.Commands;
        Assert.DoesNotContain(node1Commands, c => c.AtUnixMs > frozenAt);
        Assert.DoesNotContain(node1Commands, c => c.Op == "op-2" && c.Step == 2);
        // The new coordinator ran op-2 whole, as recovered, under its generation.
        var all = _members.SelectMany(m => m.Commands).ToList();
        Assert.Contains(all, c => c.Op == "op-2" && c.Step == 2 && c.Recovered && c.Generation == secondResult.Generation);

        // The journal: nothing of the old generation after the new one's first entry; op-2 completed once.
        var entries = await ReadJournal(observer);
        var newStart = entries.FindIndex(e => e.Generation == secondResult.Generation);
        Assert.True(newStart > 0);
        Assert.DoesNotContain(entries.Skip(newStart), e => e.Generation < secondResult.Generation);
        Assert.Single(entries, e => e is OperationCompleted c && c.Result.Id == "op-2");
    }

    private static async Task<List<ICoordinatorEvent>> ReadJournal(ClusterNode node)
    {
        var journal = PersistenceQuery.Get(node.System).ReadJournalFor<SqlReadJournal>(SqlReadJournal.Identifier);
        var entries = new List<ICoordinatorEvent>();
        await journal.CurrentEventsByPersistenceId(CoordinatorSettings.PersistenceId, 0, long.MaxValue)
            .RunForeach(e => entries.Add((ICoordinatorEvent)e.Event), node.System.Materializer());
        return entries;
    }
}
