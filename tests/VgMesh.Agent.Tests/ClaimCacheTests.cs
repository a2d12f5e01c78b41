namespace VgMesh.Agent.Tests;

/// <summary>What fencing reads from the claims it keeps on disk.</summary>
public sealed class ClaimCacheTests : IDisposable
{
    private readonly string _state = Directory.CreateTempSubdirectory("vgmesh-claims").FullName;

    public void Dispose() => Directory.Delete(_state, recursive: true);

    [Fact]
    public void HeldAndReleased_FromTheLastClaims_AnUnclaimedLvIsNeither()
    {
        var at = DateTimeOffset.UnixEpoch;
        var cache = new ClaimCache(new AgentOptions { VolumeGroup = "san", StateDir = _state, Host = "node2" });
        cache.Set(new Dictionary<string, ActivationClaim>
        {
            ["mine"] = new("node2", ActivationClaim.Exclusive, 1, at),
            ["moved"] = new("node1", ActivationClaim.Exclusive, 2, at),
            ["released"] = new(null, ActivationClaim.Inactive, 3, at),
            ["shared"] = new(null, ActivationClaim.Shared, 4, at, ["node1", "node2"]),
        });

        Assert.Equal(["mine"], cache.HeldBy("node2"));
        Assert.True(cache.ReleasedFrom("moved", "node2"));
        Assert.True(cache.ReleasedFrom("released", "node2"));
        Assert.False(cache.ReleasedFrom("mine", "node2"));
        Assert.False(cache.ReleasedFrom("shared", "node2"));
        Assert.False(cache.ReleasedFrom("by-hand", "node2")); // no claim: not vgmesh's to fence

        // Read back from disk by a restarted agent.
        var restarted = new ClaimCache(new AgentOptions { VolumeGroup = "san", StateDir = _state, Host = "node2" });
        Assert.True(restarted.ReleasedFrom("released", "node2"));
    }
}
