using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace VgMesh.Security;

/// <summary>
/// The cluster's own certificate authority and the node certificates it signs: what Akka.Remote's
/// mutual TLS checks, so that only a process holding a certificate from this CA can join the
/// cluster or send a message to it. Files are PEM; private keys are written mode 0600.
/// </summary>
public static class ClusterCertificates
{
    public const string CaCertificateFile = "ca.crt";
    public const string CaKeyFile = "ca.key";
    public const string NodeCertificateFile = "node.crt";
    public const string NodeKeyFile = "node.key";

    /// <summary>A new CA (ECDSA P-256, ten years), for one cluster.</summary>
    public static X509Certificate2 CreateAuthority(string clusterName, TimeProvider time)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN=vgmesh cluster CA {clusterName}, O=vgmesh", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        var now = time.GetUtcNow();
        return request.CreateSelfSigned(now.AddMinutes(-5), now.AddYears(10));
    }

    /// <summary>A node certificate for <paramref name="host"/>, signed by the CA, usable as TLS server and client.</summary>
    public static X509Certificate2 IssueNode(X509Certificate2 authority, string host, IReadOnlyList<string> addresses, TimeProvider time)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={host}, O=vgmesh", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyAgreement, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false));
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName(host);
        foreach (var a in addresses)
        {
            if (System.Net.IPAddress.TryParse(a, out var ip))
            {
                names.AddIpAddress(ip);
            }
            else
            {
                names.AddDnsName(a);
            }
        }

        request.CertificateExtensions.Add(names.Build());
        var now = time.GetUtcNow();
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7f;
        var notAfter = now.AddYears(2) < authority.NotAfter ? now.AddYears(2) : authority.NotAfter.ToUniversalTime();
        using var cert = request.Create(authority, now.AddMinutes(-5), notAfter, serial);
        return cert.CopyWithPrivateKey(key);
    }

    /// <summary>Writes a certificate and its private key as PEM; the key file is made mode 0600 before a byte is written.</summary>
    public static void Save(X509Certificate2 certificate, string certificatePath, string keyPath)
    {
        var key = certificate.GetECDsaPrivateKey() ?? throw new ArgumentException($"certificate {certificate.Subject} has no private key to save", nameof(certificate));
        File.WriteAllText(certificatePath, certificate.ExportCertificatePem());
        WritePrivate(keyPath, key.ExportPkcs8PrivateKeyPem());
    }

    /// <summary>A certificate with its private key, from PEM files.</summary>
    public static X509Certificate2 Load(string certificatePath, string keyPath)
    {
        foreach (var path in new[] { certificatePath, keyPath })
        {
            if (!File.Exists(path))
            {
                throw new FileNotFoundException($"{path} is missing: make the cluster's certificates with 'vgmeshd certificates' and copy this host's pair here.", path);
            }
        }

        if (!OperatingSystem.IsWindows() && (File.GetUnixFileMode(keyPath) & (UnixFileMode.GroupRead | UnixFileMode.OtherRead | UnixFileMode.GroupWrite | UnixFileMode.OtherWrite)) != 0)
        {
            throw new UnauthorizedAccessException($"{keyPath} can be read by others than its owner: run 'chmod 600 {keyPath}'; a cluster key must stay private.");
        }

        using var pem = X509Certificate2.CreateFromPemFile(certificatePath, keyPath);
        // A PEM key is ephemeral; TLS on some platforms wants a key that can be exported and reloaded.
        return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
    }

    public static X509Certificate2 LoadPublic(string certificatePath) => X509CertificateLoader.LoadCertificateFromFile(certificatePath);

    private static void WritePrivate(string path, string content)
    {
        using var f = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None);
        if (!OperatingSystem.IsWindows())
        {
            // Before a byte of the key is written; an existing file keeps its old mode otherwise.
            File.SetUnixFileMode(f.SafeFileHandle, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        using var w = new StreamWriter(f);
        w.Write(content);
    }

    /// <summary>
    /// True when <paramref name="peer"/> chains to <paramref name="authority"/> alone (the system's
    /// trust store plays no part), is within its validity and is meant for TLS. Revocation is not
    /// checked: the cluster CA publishes no list; a leaked key means a new CA.
    /// </summary>
    public static bool IssuedBy(X509Certificate2 authority, X509Certificate2 peer, TimeProvider time)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(authority);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = time.GetUtcNow().UtcDateTime;
        if (!chain.Build(peer))
        {
            return false;
        }

        var root = chain.ChainElements[^1].Certificate;
        return root.RawDataMemory.Span.SequenceEqual(authority.RawDataMemory.Span) && !peer.RawDataMemory.Span.SequenceEqual(authority.RawDataMemory.Span);
    }
}
