using VgMesh.Security;

namespace VgMesh.Agent.Tests;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class CertificatesCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vgmesh-certcmd-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        using var o = new StringWriter();
        using var e = new StringWriter();
        var code = CertificatesCommand.Run(args, o, e, TimeProvider.System);
        return (code, o.ToString(), e.ToString());
    }

    [Fact]
    public void Run_MakesTheCaAndOnePairPerHost_KeysPrivate()
    {
        var (code, output, _) = Run("--out", _dir, "--cluster", "lab", "host1=10.10.0.11", "host2=10.10.0.12,host2.san");

        Assert.Equal(0, code);
        Assert.Contains("copy its three files to /etc/vgmesh/tls on host2", output, StringComparison.Ordinal);
        using var ca = ClusterCertificates.LoadPublic(Path.Combine(_dir, "ca.crt"));
        foreach (var host in new[] { "host1", "host2" })
        {
            var key = Path.Combine(_dir, host, "node.key");
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(key));
            using var node = ClusterCertificates.Load(Path.Combine(_dir, host, "node.crt"), key);
            Assert.True(ClusterCertificates.IssuedBy(ca, node, TimeProvider.System));
            Assert.Equal(File.ReadAllText(Path.Combine(_dir, "ca.crt")), File.ReadAllText(Path.Combine(_dir, host, "ca.crt")));
        }

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(_dir, "ca.key")));
    }

    [Fact]
    public void Run_Again_AddsHostsUnderTheSameCa_AndRefusesAnExistingOne()
    {
        Assert.Equal(0, Run("--out", _dir, "--cluster", "lab", "host1=10.10.0.11").Code);

        var (code, output, _) = Run("--out", _dir, "--cluster", "lab", "host3=10.10.0.13");
        var again = Run("--out", _dir, "--cluster", "lab", "host1=10.10.0.11");

        Assert.Equal(0, code);
        Assert.Contains("using the cluster CA", output, StringComparison.Ordinal);
        using var ca = ClusterCertificates.LoadPublic(Path.Combine(_dir, "ca.crt"));
        using var node = ClusterCertificates.Load(Path.Combine(_dir, "host3", "node.crt"), Path.Combine(_dir, "host3", "node.key"));
        Assert.True(ClusterCertificates.IssuedBy(ca, node, TimeProvider.System));
        Assert.Equal(2, again.Code);
        Assert.Contains("exists already: remove it", again.Err, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("host1")]
    [InlineData("-x=10.0.0.1")]
    [InlineData("host1=10.0.0.1;rm")]
    [InlineData("ho/st=10.0.0.1")]
    public void Run_BadHostArgument_WritesNothing(string arg)
    {
        var target = Path.Combine(_dir, "out");

        var (code, _, err) = Run("--out", target, "--cluster", "lab", arg);

        Assert.Equal(2, code);
        Assert.Contains("nothing was written", err, StringComparison.Ordinal);
        Assert.False(Directory.Exists(target));
    }
}
