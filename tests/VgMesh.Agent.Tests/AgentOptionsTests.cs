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
        Assert.Contains("EtcdEndpoints", Message(new AgentOptions { VolumeGroup = "san", EtcdEndpoints = ["not a url"] }), StringComparison.Ordinal);
        Assert.Contains("ReconcileIntervalSeconds", Message(new AgentOptions { VolumeGroup = "san", ReconcileIntervalSeconds = 0 }), StringComparison.Ordinal);
        Assert.Equal("san", new AgentOptions { VolumeGroup = "san" }.Validate().VolumeGroup);
    }
}
