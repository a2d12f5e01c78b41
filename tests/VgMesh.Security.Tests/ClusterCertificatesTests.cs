namespace VgMesh.Security.Tests;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class ClusterCertificatesTests
{
    [Fact]
    public void IssuedBy_NodeOfThisCa_Accepted_OthersRefused()
    {
        using var ca = ClusterCertificates.CreateAuthority("a", TimeProvider.System);
        using var other = ClusterCertificates.CreateAuthority("b", TimeProvider.System);
        using var node = ClusterCertificates.IssueNode(ca, "node1", ["10.0.0.1"], TimeProvider.System);
        using var stranger = ClusterCertificates.IssueNode(other, "node1", ["10.0.0.1"], TimeProvider.System);

        Assert.True(ClusterCertificates.IssuedBy(ca, node, TimeProvider.System));
        Assert.False(ClusterCertificates.IssuedBy(ca, stranger, TimeProvider.System));
        Assert.False(ClusterCertificates.IssuedBy(ca, ca, TimeProvider.System)); // the CA itself is no node
    }

    private static string SaveNode(string dir)
    {
        using var ca = ClusterCertificates.CreateAuthority("a", TimeProvider.System);
        using var node = ClusterCertificates.IssueNode(ca, "node1", ["10.0.0.1"], TimeProvider.System);
        ClusterCertificates.Save(node, Path.Combine(dir, ClusterCertificates.NodeCertificateFile), Path.Combine(dir, ClusterCertificates.NodeKeyFile));
        return Path.Combine(dir, ClusterCertificates.NodeKeyFile);
    }

    [Fact]
    public void SaveAndLoad_KeyIsPrivateAndUsable()
    {
        var dir = Directory.CreateTempSubdirectory("vgmesh-certs-").FullName;
        try
        {
            var key = SaveNode(dir);

            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(key));
            using var loaded = ClusterCertificates.Load(Path.Combine(dir, ClusterCertificates.NodeCertificateFile), key);
            Assert.True(loaded.HasPrivateKey);
            Assert.Contains("CN=node1", loaded.Subject, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Load_KeyReadableByOthers_RefusedWithTheFix()
    {
        var dir = Directory.CreateTempSubdirectory("vgmesh-certs-").FullName;
        try
        {
            var key = SaveNode(dir);
            File.SetUnixFileMode(key, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);

            var e = Assert.Throws<UnauthorizedAccessException>(() => ClusterCertificates.Load(Path.Combine(dir, ClusterCertificates.NodeCertificateFile), key));

            Assert.Contains("chmod 600", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
