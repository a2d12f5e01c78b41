using System.Security.Cryptography.X509Certificates;
using System.Security.Cryptography;
using VgMesh.Security;

namespace VgMesh.Cluster.Tests.Security;

/// <summary>A cluster CA in a temporary directory, and certificate directories for its nodes (and for rogues).</summary>
internal sealed class TestCertificates : IDisposable
{
    private readonly X509Certificate2 _ca;

    public TestCertificates(string cluster = "test")
    {
        Root = Directory.CreateTempSubdirectory("vgmesh-certs-").FullName;
        _ca = ClusterCertificates.CreateAuthority(cluster, TimeProvider.System);
    }

    public string Root { get; }

    /// <summary>A directory with this CA's certificate and a node pair it signed.</summary>
    public string Node(string host) => Write(host, _ca, ClusterCertificates.IssueNode(_ca, host, ["127.0.0.1"], TimeProvider.System));

    /// <summary>A node pair from a different CA, which trusts only its own CA.</summary>
    public string FromAnotherAuthority(string host)
    {
        using var other = ClusterCertificates.CreateAuthority("other", TimeProvider.System);
        return Write(host, other, ClusterCertificates.IssueNode(other, host, ["127.0.0.1"], TimeProvider.System));
    }

    /// <summary>A self-signed node certificate that names itself its CA.</summary>
    public string SelfSigned(string host)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={host}, O=vgmesh", key, HashAlgorithmName.SHA256);
        using var self = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddYears(1));
        return Write(host, self, self);
    }

    private string Write(string host, X509Certificate2 ca, X509Certificate2 node)
    {
        var dir = Path.Combine(Root, host + "-" + Guid.NewGuid().ToString("N")[..6]);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, ClusterCertificates.CaCertificateFile), ca.ExportCertificatePem());
        ClusterCertificates.Save(node, Path.Combine(dir, ClusterCertificates.NodeCertificateFile), Path.Combine(dir, ClusterCertificates.NodeKeyFile));
        node.Dispose();
        return dir;
    }

    public void Dispose()
    {
        _ca.Dispose();
        Directory.Delete(Root, recursive: true);
    }
}
