namespace VgMesh.Agent.Tests;

public class AgentOptionsTests
{
    private static string Message(AgentOptions o) => Assert.Throws<ArgumentException>(() => o.Validate()).Message;

    [Fact]
    public void Validate_NamesTheSetting()
    {
        Assert.Contains("VolumeGroup", Message(new AgentOptions()), StringComparison.Ordinal);
        Assert.Contains("VolumeGroup", Message(new AgentOptions { VolumeGroup = "@x" }), StringComparison.Ordinal);
        Assert.Contains("TcpListen 'nope'", Message(new AgentOptions { VolumeGroup = "san", TcpListen = "nope" }), StringComparison.Ordinal);
        Assert.Contains("TokenFile", Message(new AgentOptions { VolumeGroup = "san", TcpListen = "127.0.0.1:7070", TokenFile = "/nonexistent" }), StringComparison.Ordinal);
        Assert.Contains("ClusterListen 'nope'", Message(new AgentOptions { VolumeGroup = "san", ClusterListen = "nope" }), StringComparison.Ordinal);
        Assert.Contains("JournalConnectionFile", Message(new AgentOptions { VolumeGroup = "san", JournalConnectionFile = "/nonexistent" }), StringComparison.Ordinal);
        Assert.Contains("SplitBrain 'both'", Message(new AgentOptions { VolumeGroup = "san", SplitBrain = "both" }), StringComparison.Ordinal);
        Assert.Contains("ReconcileIntervalSeconds", Message(new AgentOptions { VolumeGroup = "san", ReconcileIntervalSeconds = 0 }), StringComparison.Ordinal);
        Assert.Contains("DeviceWatchMilliseconds", Message(new AgentOptions { VolumeGroup = "san", DeviceWatchMilliseconds = 50 }), StringComparison.Ordinal);
        Assert.Equal("san", new AgentOptions { VolumeGroup = "san" }.Validate().VolumeGroup);
    }

    [Fact]
    public void TwoHosts_WithKeepMajority_RefusedWithTheStrategyThatIsSafe()
    {
        var journal = Path.GetTempFileName();
        try
        {
            File.WriteAllText(journal, "Host=10.0.0.1;Database=vgmesh");
            var e = Message(new AgentOptions { VolumeGroup = "san", JournalConnectionFile = journal, ExpectedHosts = 2, ClusterListen = "10.0.0.11:4053", Seeds = ["10.0.0.11:4053"], CertificateDir = "/etc/vgmesh/tls" });
            Assert.Contains("LeaseMajority", e, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(journal);
        }
    }
}
