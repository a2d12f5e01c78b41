using VgMesh.Agent.Lls;
using VgMesh.Agent.Operations;

namespace VgMesh.Agent.Tests.Lls;

public sealed class PeerIdentityTests : IDisposable
{
    private static readonly LlsOptions Options = new()
    {
        Containers = [new LlsContainer { Name = "c1" }, new LlsContainer { Name = "c2" }, new LlsContainer { Name = "n1", Cgroup = "/machine.slice/systemd-nspawn@n1.service" }],
    };

    private readonly string _proc = Path.Combine(Path.GetTempPath(), $"vgmesh-proc-{Guid.NewGuid():N}");

    [Fact]
    public void UnifiedCgroup_IsTheV2Line()
    {
        Assert.Equal("/lxc.payload.c1/sub", PeerIdentity.UnifiedCgroup("12:freezer:/x\n0::/lxc.payload.c1/sub\n"));
        Assert.Null(PeerIdentity.UnifiedCgroup("12:freezer:/x\n"));
    }

    [Theory]
    [InlineData("/lxc.payload.c1", "c1")]
    [InlineData("/lxc.payload.c1/inner/deeper", "c1")]
    [InlineData("/lxc.payload.c10", null)] // a prefix of the name is not the container
    [InlineData("/lxc.monitor.c1", null)] // LXC's monitor runs on the host
    [InlineData("/", null)]
    [InlineData("/machine.slice/systemd-nspawn@n1.service/payload", "n1")]
    public void ContainerOf_TheCgroupOrBelowIt(string cgroup, string? expected) =>
        Assert.Equal(expected, PeerIdentity.ContainerOf(cgroup, Options.Containers)?.Name);

    [Fact]
    public void StartTime_IsField22_EvenWithSpacesAndParenthesesInTheName()
    {
        var stat = "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10 18446744073709551615";
        Assert.Equal(987654, PeerIdentity.StartTime(stat));
        Assert.Null(PeerIdentity.StartTime("garbage"));
    }

    [Fact]
    public void Identify_TheSocketsContainer_Passes()
    {
        Proc(101, "0::/lxc.payload.c1/x");
        var caller = PeerIdentity.Identify(101, "c1", "node1", Options, _proc);
        Assert.Equal(("c1", "node1/c1"), (caller.Container, caller.Owner));
    }

    [Fact]
    public void Identify_AnotherContainer_OnThisSocket_IsRefused()
    {
        Proc(102, "0::/lxc.payload.c2");
        var e = Assert.Throws<Forbidden>(() => PeerIdentity.Identify(102, "c1", "node1", Options, _proc));
        Assert.Contains("in container c2, not c1", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Identify_AHostProcess_IsRefused()
    {
        Proc(103, "0::/system.slice/ssh.service");
        var e = Assert.Throws<Forbidden>(() => PeerIdentity.Identify(103, "c1", "node1", Options, _proc));
        Assert.Contains("not in a registered container", e.Message, StringComparison.Ordinal);
        Assert.Throws<Forbidden>(() => PeerIdentity.Identify(0, "c1", "node1", Options, _proc));
        Assert.Throws<Forbidden>(() => PeerIdentity.Identify(999, "c1", "node1", Options, _proc)); // gone
    }

    private void Proc(int pid, string cgroup)
    {
        var d = Path.Combine(_proc, pid.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Directory.CreateDirectory(d);
        File.WriteAllText(Path.Combine(d, "cgroup"), cgroup + "\n");
        File.WriteAllText(Path.Combine(d, "stat"), $"{pid} (sh) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5555 0 0 0");
    }

    public void Dispose()
    {
        if (Directory.Exists(_proc))
        {
            Directory.Delete(_proc, recursive: true);
        }
    }
}
