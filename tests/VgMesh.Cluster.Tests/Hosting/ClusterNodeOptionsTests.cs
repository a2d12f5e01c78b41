using VgMesh.Cluster.Hosting;

namespace VgMesh.Cluster.Tests.Hosting;

public class ClusterNodeOptionsTests
{
    private static ClusterNodeOptions Valid => new()
    {
        Host = "node1",
        Hostname = "10.0.0.1",
        SeedNodes = ["10.0.0.1:4053", "10.0.0.2:4053"],
        JournalConnectionString = "Host=10.0.0.9;Username=vgmesh",
        CertificateDirectory = "/etc/vgmesh/tls",
    };

    private static string Refusal(ClusterNodeOptions o) => Assert.Throws<ArgumentException>(o.Validate).Message;

    [Fact]
    public void Validate_Defaults_Accepted()
    {
        Valid.Validate();
        Assert.Equal(["akka.ssl.tcp://vgmesh@10.0.0.1:4053", "akka.ssl.tcp://vgmesh@10.0.0.2:4053"], Valid.SeedAddresses);
    }

    [Fact]
    public void DatabaseConnectionString_PostgresSessionsEndWhatADeadHostLeft_TheOperatorsOptionsWin()
    {
        var b = new Npgsql.NpgsqlConnectionStringBuilder(Valid.DatabaseConnectionString);
        Assert.Equal(("10.0.0.9", "vgmesh", ClusterNodeOptions.PostgresSessionOptions), (b.Host, b.Username, b.Options));

        var own = new Npgsql.NpgsqlConnectionStringBuilder((Valid with { JournalConnectionString = "Host=db;Options=-c lock_timeout=30s" }).DatabaseConnectionString);
        Assert.EndsWith("-c lock_timeout=30s", own.Options, StringComparison.Ordinal);

        var sqlite = Valid with { JournalConnectionString = "Data Source=/var/lib/vgmesh/cluster.db", JournalProvider = "SQLite.MS" };
        Assert.Equal(sqlite.JournalConnectionString, sqlite.DatabaseConnectionString);
    }

    [Fact]
    public void Validate_TwoHostsWithKeepMajority_RefusedWithTheSafeStrategy()
    {
        Assert.Contains("set SplitBrain to LeaseMajority", Refusal(Valid with { ExpectedHosts = 2 }), StringComparison.Ordinal);
        (Valid with { ExpectedHosts = 2, SplitBrain = SplitBrainStrategy.LeaseMajority }).Validate();
    }

    [Fact]
    public void Validate_NoCertificates_RefusedUnlessOneHostOnLoopback()
    {
        Assert.Contains("vgmeshd certificates", Refusal(Valid with { CertificateDirectory = null }), StringComparison.Ordinal);
        Assert.Contains("for a one-host install on loopback", Refusal(Valid with { CertificateDirectory = null, AllowPlaintextRemoting = true }), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("10.0.0.1")]
    [InlineData("akka.tcp://vgmesh@10.0.0.1:4053")]
    [InlineData("10.0.0.1:99999")]
    public void Validate_SeedNotHostPort_Refused(string seed) =>
        Assert.Contains($"seed node '{seed}' is not host:port", Refusal(Valid with { SeedNodes = [seed] }), StringComparison.Ordinal);

    [Fact]
    public void Validate_SqliteJournalForSeveralHosts_Refused() =>
        Assert.Contains("cannot move", Refusal(Valid with { JournalProvider = "SQLite.MS" }), StringComparison.Ordinal);

    [Fact]
    public void Validate_LeaseTimings_Checked()
    {
        Assert.Contains("LeaseHeartbeat", Refusal(Valid with { LeaseHeartbeat = TimeSpan.FromSeconds(3) }), StringComparison.Ordinal);
        Assert.Contains("LeaseSafetyMargin", Refusal(Valid with { LeaseSafetyMargin = TimeSpan.FromSeconds(4) }), StringComparison.Ordinal);
    }
}
