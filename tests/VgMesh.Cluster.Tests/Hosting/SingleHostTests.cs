using VgMesh.Bench;
using VgMesh.Cluster.Coordinator;
using VgMesh.Cluster.Hosting;
using VgMesh.Cluster.Tests.Coordinator;

namespace VgMesh.Cluster.Tests.Hosting;

/// <summary>The one-host install: an Akka cluster of one node, its journal and lease in a SQLite file.</summary>
public sealed class SingleHostTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vgmesh-single-").FullName;

    private ClusterNodeOptions Options()
    {
        var port = FreePorts.Next();
        return new ClusterNodeOptions
        {
            Host = "solo",
            Hostname = "127.0.0.1",
            Port = port,
            SeedNodes = [$"127.0.0.1:{port}"],
            ExpectedHosts = 1,
            JournalProvider = "SQLite.MS",
            JournalConnectionString = $"Data Source={Path.Combine(_dir, "journal.db")}",
            AllowPlaintextRemoting = true,
        };
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task OneNodeOnSqlite_RunsOperations_AndKeepsThemAcrossARestart()
    {
        OperationResult first;
        await using (var node = await LocalCluster.StartAsync(Options(), new ScriptedHandler()))
        {
            first = Assert.IsType<SubmitAnswer.Finished>(await node.Client.SubmitAsync(new OperationRequest("op-1", "lv.create", "{}", "solo"), TimeSpan.FromSeconds(60), default)).Result;
            Assert.Single(node.Handler.Calls);
        }

        await using var again = await LocalCluster.StartAsync(Options(), new ScriptedHandler());
        var replay = Assert.IsType<SubmitAnswer.Finished>(await again.Client.SubmitAsync(new OperationRequest("op-1", "lv.create", "{}", "solo"), TimeSpan.FromSeconds(60), default)).Result;
        var next = Assert.IsType<SubmitAnswer.Finished>(await again.Client.SubmitAsync(new OperationRequest("op-2", "lv.create", "{}", "solo"), TimeSpan.FromSeconds(60), default)).Result;

        Assert.Equal(first, replay);
        Assert.Equal(OperationStatus.Succeeded, next.Status);
        Assert.True(next.Generation > first.Generation);
        Assert.Equal(2, next.LastEventSequence);
        Assert.DoesNotContain(again.Handler.Calls, c => c.Request.Id == "op-1");
    }
}
