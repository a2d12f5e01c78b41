using VgMesh.Bench;
using VgMesh.Security;

namespace VgMesh.Agent.Tests.InLab;

/// <summary>
/// A process on the lab's cluster network (inside its namespace, on the bridge) that tries to
/// join the running agents' cluster without the cluster's certificate: with one from another CA
/// over TLS, and with none over plain TCP. It never becomes a member, and the agents, which
/// refuse its handshakes, stay up and serve (Akka.Remote 1.5.74 ends an ActorSystem after a
/// failed outbound handshake of its own: that ends the TLS rogue, while the agents' refusals
/// here are inbound).
/// </summary>
[Collection("agent-lab")]
public sealed class RogueLabTests(AgentLabFixture f) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vgmesh-rogue-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>The bench's own build output (same configuration as this test's): beside this ASP.NET test's output its hosting libraries are missing.</summary>
    private static string BenchAssembly()
    {
        var here = Path.GetDirectoryName(typeof(RogueLabTests).Assembly.Location)!; // tests/VgMesh.Agent.Tests/bin/CONFIG/TFM
        var tfm = Path.GetFileName(here);
        var config = Path.GetFileName(Path.GetDirectoryName(here)!);
        return Path.Combine(global::VgMesh.Lab.Lab.RepoRoot, "src", "VgMesh.Bench", "bin", config, tfm, "vgmesh-bench.dll");
    }

    /// <summary>A certificate directory from a CA of its own, naming the rogue's address.</summary>
    private string AnotherAuthority(string address)
    {
        var dir = Path.Combine(_dir, "certs");
        Directory.CreateDirectory(dir);
        using var ca = ClusterCertificates.CreateAuthority("agenttest", TimeProvider.System); // the same cluster name, another key
        using var node = ClusterCertificates.IssueNode(ca, "rogue", [address], TimeProvider.System);
        File.WriteAllText(Path.Combine(dir, ClusterCertificates.CaCertificateFile), ca.ExportCertificatePem());
        ClusterCertificates.Save(node, Path.Combine(dir, ClusterCertificates.NodeCertificateFile), Path.Combine(dir, ClusterCertificates.NodeKeyFile));
        return dir;
    }

    [Theory]
    [InlineData("another CA")]
    [InlineData("no certificate")]
    public async Task Rogue_OnTheClusterNetwork_NeverJoins_AndTheAgentsStayUp(string kind)
    {
        await f.AllLiveAsync();
        var env = await f.Lab.EnvAsync();
        var bridge = env["VGMESH_LAB_POSTGRES"].Split(':')[0]; // the bridge's own address in the namespace
        var seed = $"{env["VGMESH_LAB_NODE1_SAN"]}:4053";
        var launcher = new[] { global::VgMesh.Lab.Lab.Script, "--name", "agenttest", "ns", "--" };
        // It has no journal credentials: a rogue that joined would still need the lease to coordinate.
        const string journal = "Host=127.0.0.1;Port=1;Database=none;Username=rogue;Password=none";
        using var rogue = kind == "another CA"
            ? AkkaMemberProcess.Start(_dir, "rogue", 4999, seed, journal, AnotherAuthority(bridge), launcher: launcher, hostname: bridge, assembly: BenchAssembly())
            : AkkaMemberProcess.Start(_dir, "rogue", 4999, seed, journal, certificates: null, launcher: launcher, assembly: BenchAssembly()); // plain TCP, loopback of the namespace

        // Every chance an agent gets: a restarted agent is Up within seconds (its join retries every 5 s).
        await Task.Delay(TimeSpan.FromSeconds(20));
        var log = File.ReadAllText(rogue.LogPath);
        if (kind == "another CA")
        {
            // It reached an agent and the handshake failed; Akka.Remote 1.5.74 then ends the
            // rogue's own ActorSystem (a failed outbound TLS handshake), so it may have exited.
            Assert.Contains("Association failed with akka.ssl.tcp://vgmesh@" + seed, log, StringComparison.Ordinal);
        }
        else
        {
            Assert.False(rogue.HasExited, $"the plain-TCP rogue ended early; its log: {log}");
        }

        foreach (var host in new[] { "node1", "node2", "node3" })
        {
            var status = await f.StatusAsync(host);
            Assert.Equal(["node1", "node2", "node3"], status.Hosts.Select(h => h.Host).Order(StringComparer.Ordinal));
            Assert.All(status.Hosts, h => Assert.True(h.Alive, $"{h.Host} is {h.MemberStatus} as {host} sees it"));
        }

        Assert.DoesNotContain("is JOINING", log, StringComparison.Ordinal);
        Assert.DoesNotContain("Welcome from", log, StringComparison.Ordinal);

        // The agents still take changes.
        await f.OkAsync("node2", "lv", "create", $"after-rogue-{(kind == "another CA" ? "ca" : "plain")}", "--size", "8M");
    }
}
