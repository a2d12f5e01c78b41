using VgMesh.Cluster.Leases;

namespace VgMesh.Agent.Tests;

public sealed class JoinWatchTests
{
    private static readonly TimeSpan GiveUp = TimeSpan.FromSeconds(60);

    private static LeaseRow Held(string owner) => new("vgmesh-coordinator", owner, 7, TimeSpan.FromSeconds(9));

    [Fact]
    public void OutsideLongEnough_WhileAnotherHostCoordinates_Restarts()
    {
        Assert.True(JoinWatch.ShouldRestart(member: false, TimeSpan.FromSeconds(61), Held("node1"), "node3", GiveUp));
        Assert.True(AgentExit.IsRestart(JoinStuckReason.Instance, stopping: false));
    }

    [Fact]
    public void AMember_OrOneStillWithinTheWait_Stays()
    {
        Assert.False(JoinWatch.ShouldRestart(member: true, TimeSpan.FromMinutes(5), Held("node1"), "node3", GiveUp));
        Assert.False(JoinWatch.ShouldRestart(member: false, TimeSpan.FromSeconds(59), Held("node1"), "node3", GiveUp));
    }

    [Fact]
    public void AfterAFullOutage_NobodyHoldsTheLease_TheAgentWaitsForAnOperator()
    {
        // Expired, or never taken: restarting would only loop until 'vgmesh cluster form'.
        Assert.False(JoinWatch.ShouldRestart(member: false, TimeSpan.FromMinutes(5), Held("node1") with { Remaining = TimeSpan.FromSeconds(-30) }, "node3", GiveUp));
        Assert.False(JoinWatch.ShouldRestart(member: false, TimeSpan.FromMinutes(5), null, "node3", GiveUp));
        // Its own old incarnation's lease, still running out, is not a cluster to get into.
        Assert.False(JoinWatch.ShouldRestart(member: false, TimeSpan.FromMinutes(5), Held("node3"), "node3", GiveUp));
    }

    [Fact]
    public void AMemberRefusedTheLease_HeldByANodeNotInItsCluster_IsAStrayCluster()
    {
        string[] alone = ["vgmesh@10.77.0.11:4053"];
        var elsewhere = Held("vgmesh@10.77.0.12:4053#0b36fd343c254db199e0b3174750d6b7");
        Assert.True(JoinWatch.IsStray(member: true, TimeSpan.FromSeconds(61), elsewhere, alone, GiveUp));
        // Not yet long enough, not a member at all (the outside rule's case), the holder in this cluster, or nobody holding it.
        Assert.False(JoinWatch.IsStray(member: true, TimeSpan.FromSeconds(59), elsewhere, alone, GiveUp));
        Assert.False(JoinWatch.IsStray(member: false, TimeSpan.FromSeconds(61), elsewhere, alone, GiveUp));
        Assert.False(JoinWatch.IsStray(member: true, TimeSpan.FromSeconds(61), elsewhere, [.. alone, "vgmesh@10.77.0.12:4053"], GiveUp));
        Assert.False(JoinWatch.IsStray(member: true, TimeSpan.FromSeconds(61), elsewhere with { Remaining = TimeSpan.FromSeconds(-1) }, alone, GiveUp));
        Assert.False(JoinWatch.IsStray(member: true, TimeSpan.FromSeconds(61), null, alone, GiveUp));
    }

    [Fact]
    public void ALeaseOwner_NamesItsNode_WithoutTheIncarnation()
    {
        Assert.Equal("vgmesh@10.77.0.12:4053", JoinWatch.OwnerNode("vgmesh@10.77.0.12:4053#0b36fd343c254db199e0b3174750d6b7"));
        Assert.Equal("node1", JoinWatch.OwnerNode("node1"));
    }
}
