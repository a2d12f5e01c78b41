using LabDriver = global::VgMesh.Lab.Lab;

namespace VgMesh.Agent.Tests.InLab;

/// <summary>
/// Every host's agent stopped, then all started again (a power cut): the first seed, a member
/// before, does not form a cluster by itself (it cannot tell this from being cut off), so the
/// cluster stays down until an operator runs <c>vgmesh cluster form</c>; then every host joins.
/// </summary>
[Collection("agent-lab")]
public class ClusterRestartLabTests(AgentLabFixture f)
{
    private static async Task LabAsync(params string[] args)
    {
        var r = await LabDriver.RunAsync([LabDriver.Script, "--name", "agenttest", .. args]);
        Assert.True(r.Succeeded, $"ops/lab {string.Join(' ', args)}: {r.Stderr}");
    }

    [Fact]
    public async Task AllAgentsRestarted_ClusterFormsOnlyWhenAnOperatorSays_ThenEveryHostJoins()
    {
        await f.AllLiveAsync();
        // A form while members run is refused.
        var member = await f.CliAsync("node2", "cluster", "form");
        Assert.Equal(1, member.ExitCode);
        Assert.Contains("already a member", member.Stderr, StringComparison.Ordinal);

        await LabAsync("agent", "stop", "all");
        await LabAsync("agent", "start", "all", "--no-wait");
        await Task.Delay(TimeSpan.FromSeconds(20));
        Assert.NotEqual(0, (await f.CliAsync("node1", "cluster", "status")).ExitCode);

        var formed = await AgentLabFixture.EventuallyAsync(() => f.CliAsync("node1", "cluster", "form"), r => r.ExitCode == 0, TimeSpan.FromSeconds(60), "node1 forms the cluster");
        Assert.Contains("forms the cluster", formed.Stdout, StringComparison.Ordinal);
        await f.AllLiveAsync();
    }
}
