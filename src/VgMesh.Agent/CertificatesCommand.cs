using System.Text.RegularExpressions;
using VgMesh.Security;

namespace VgMesh.Agent;

/// <summary>
/// <c>vgmeshd certificates --out DIR --cluster NAME HOST=ADDR[,ADDR]...</c>: makes the cluster's
/// CA (once) and a certificate for each host, for Akka.Remote's mutual TLS. A second run with the
/// same DIR adds hosts under the same CA. Private keys are written mode 0600; nothing is written
/// when an argument is wrong.
/// </summary>
internal static partial class CertificatesCommand
{
    public const string Usage = "usage: vgmeshd certificates --out DIR --cluster NAME HOST=ADDR[,ADDR]...";

    public static int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr, TimeProvider time)
    {
        string? outDir = null;
        string? cluster = null;
        var hosts = new List<(string Host, string[] Addresses)>();
        for (var i = 0; i < args.Count; i++)
        {
            switch (args[i])
            {
                case "--out" when i + 1 < args.Count:
                    outDir = args[++i];
                    break;
                case "--cluster" when i + 1 < args.Count:
                    cluster = args[++i];
                    break;
                case var a when a.Contains('=', StringComparison.Ordinal) && !a.StartsWith('-'):
                    var host = a[..a.IndexOf('=', StringComparison.Ordinal)];
                    var addresses = a[(host.Length + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries);
                    if (!Name().IsMatch(host) || addresses.Length == 0 || addresses.Any(x => !Name().IsMatch(x) && !System.Net.IPAddress.TryParse(x, out _)))
                    {
                        return Fail(stderr, $"'{a}' is not HOST=ADDR[,ADDR] (host names and addresses of letters, digits, '.' and '-'; IP addresses)");
                    }

                    hosts.Add((host, addresses));
                    break;
                default:
                    return Fail(stderr, $"unexpected argument '{args[i]}'");
            }
        }

        if (outDir is null || cluster is null || hosts.Count == 0)
        {
            return Fail(stderr, "--out, --cluster and at least one HOST=ADDR are needed");
        }

        if (hosts.Select(h => h.Host).Distinct(StringComparer.Ordinal).Count() != hosts.Count)
        {
            return Fail(stderr, "a host is named twice");
        }

        var existing = hosts.Where(h => Directory.Exists(Path.Combine(outDir, h.Host))).Select(h => h.Host).ToList();
        if (existing.Count > 0)
        {
            return Fail(stderr, $"{string.Join(", ", existing.Select(h => Path.Combine(outDir, h)))} exists already: remove it to issue that host's certificate again");
        }

        var caCert = Path.Combine(outDir, ClusterCertificates.CaCertificateFile);
        var caKey = Path.Combine(outDir, ClusterCertificates.CaKeyFile);
        Directory.CreateDirectory(outDir);
        System.Security.Cryptography.X509Certificates.X509Certificate2 ca;
        if (File.Exists(caKey))
        {
            ca = ClusterCertificates.Load(caCert, caKey);
            stdout.WriteLine($"using the cluster CA in {caCert}");
        }
        else
        {
            ca = ClusterCertificates.CreateAuthority(cluster, time);
            ClusterCertificates.Save(ca, caCert, caKey);
            stdout.WriteLine($"made the cluster CA: {caCert} (its key {caKey} signs new hosts: keep it off the hosts)");
        }

        using (ca)
        {
            foreach (var (host, addresses) in hosts)
            {
                var dir = Path.Combine(outDir, host);
                Directory.CreateDirectory(dir);
                File.Copy(caCert, Path.Combine(dir, ClusterCertificates.CaCertificateFile));
                using var node = ClusterCertificates.IssueNode(ca, host, addresses, time);
                ClusterCertificates.Save(node, Path.Combine(dir, ClusterCertificates.NodeCertificateFile), Path.Combine(dir, ClusterCertificates.NodeKeyFile));
                stdout.WriteLine($"{host}: {dir}/ (copy its three files to /etc/vgmesh/tls on {host}, keys mode 0600)");
            }
        }

        return 0;
    }

    private static int Fail(TextWriter stderr, string message)
    {
        stderr.WriteLine($"vgmeshd certificates: {message}; nothing was written.\n{Usage}");
        return 2;
    }

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9.-]{0,252}\z")]
    private static partial Regex Name();
}
