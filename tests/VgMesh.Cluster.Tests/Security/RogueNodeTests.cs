using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Cluster;
using VgMesh.Bench;
using VgMesh.Cluster.Coordinator;
using VgMesh.Cluster.Tests.Coordinator;

namespace VgMesh.Cluster.Tests.Security;

/// <summary>
/// A process on the cluster network without the cluster's certificate (none, one from another
/// CA, a self-signed one) can neither join nor get a message to an actor. Two real nodes with
/// mutual TLS; the rogue is a real ActorSystem wired the same way but for its certificates.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class RogueNodeTests(PostgresFixture pg) : IAsyncLifetime, IDisposable
{
    private readonly TestCertificates _certs = new();
    private readonly List<ClusterNode> _nodes = [];
    private readonly ConcurrentQueue<object> _received = new();
    private ClusterNode[] _cluster = [];

    public async Task InitializeAsync()
    {
        var journal = await pg.NewDatabaseAsync();
        var p1 = FreePorts.Next();
        var p2 = FreePorts.Next();
        var n1 = await LocalCluster.StartAsync(LocalCluster.Options("node1", p1, p1, journal, _certs.Node("node1")), new ScriptedHandler());
        _nodes.Add(n1);
        var n2 = await LocalCluster.StartAsync(LocalCluster.Options("node2", p2, p1, journal, _certs.Node("node2")), new ScriptedHandler());
        _nodes.Add(n2);
        _cluster = [n1, n2];
        await Until(() => _cluster.All(n => n.Cluster.State.Members.Count(m => m.Status == MemberStatus.Up) == 2), TimeSpan.FromSeconds(60));
        n1.System.ActorOf(Props.Create(() => new Recorder(_received)), "recorder");
    }

    public async Task DisposeAsync()
    {
        foreach (var n in _nodes)
        {
            await n.DisposeAsync();
        }
    }

    public void Dispose() => _certs.Dispose();

    private static async Task<bool> Until(Func<bool> condition, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                return false;
            }

            await Task.Delay(100);
        }

        return true;
    }

    private string RecorderPath(string protocol) => $"{protocol}://vgmesh@127.0.0.1:{_cluster[0].Port}/user/recorder";

    [Fact]
    public async Task Member_WithTheClusterCertificate_MessageArrives()
    {
        _cluster[1].System.ActorSelection(RecorderPath("akka.ssl.tcp")).Tell(new HostApplied("node2", 1, DateTimeOffset.UnixEpoch));

        Assert.True(await Until(() => _received.Any(m => m is HostApplied { Host: "node2" }), TimeSpan.FromSeconds(10)));
    }

    public static TheoryData<string> Rogues => ["no certificate", "another CA", "self-signed"];

    [Theory]
    [MemberData(nameof(Rogues))]
    public async Task Rogue_CannotJoin_AndItsMessageReachesNoActor(string kind)
    {
        var port = FreePorts.Next();
        var options = LocalCluster.Options("rogue", port, _cluster[0].Port, await pg.NewDatabaseAsync(), kind switch
        {
            "another CA" => _certs.FromAnotherAuthority("rogue"),
            "self-signed" => _certs.SelfSigned("rogue"),
            _ => null!,
        });
        if (kind == "no certificate")
        {
            options = options with { CertificateDirectory = null, AllowPlaintextRemoting = true };
        }

        ClusterNode rogue;
        try
        {
            rogue = await LocalCluster.StartAsync(options, new ScriptedHandler());
        }
        catch (InvalidOperationException e) when (kind != "no certificate" && e.Message.Contains("terminat", StringComparison.Ordinal))
        {
            // Akka.Remote 1.5.74 shuts an ActorSystem down after a failed outbound TLS handshake:
            // with a certificate the cluster refuses, that may happen before hosting has started
            // the rogue's actors (seen in CI, 2026-12-05). It never ran, so it never joined.
            await Task.Delay(2000);
            Assert.All(_cluster, n => Assert.DoesNotContain(n.Cluster.State.Members, m => m.Address.Port == port));
            Assert.DoesNotContain(_received, m => m is HostApplied { Host: "rogue" });
            return;
        }

        _nodes.Add(rogue);
        var protocol = options.CertificateDirectory is null ? "akka.tcp" : "akka.ssl.tcp";
        rogue.System.ActorSelection(RecorderPath(protocol)).Tell(new HostApplied("rogue", 99, DateTimeOffset.UnixEpoch));

        // Given every chance the legitimate node had (it was Up within a second or two).
        var joined = await Until(() => rogue.Cluster.SelfMember.Status == MemberStatus.Up || _cluster[0].Cluster.State.Members.Count > 2, TimeSpan.FromSeconds(10));
        rogue.System.ActorSelection(RecorderPath(protocol)).Tell(new HostApplied("rogue", 100, DateTimeOffset.UnixEpoch));
        await Task.Delay(2000);

        Assert.False(joined, $"the rogue ({kind}) joined");
        Assert.All(_cluster, n => Assert.DoesNotContain(n.Cluster.State.Members, m => m.Address.Port == port));
        Assert.DoesNotContain(_received, m => m is HostApplied { Host: "rogue" });
    }

    private sealed class Recorder : ReceiveActor
    {
        public Recorder(ConcurrentQueue<object> received) => ReceiveAny(received.Enqueue);
    }
}
