namespace VgMesh.Agent.Tests.InLab;

/// <summary>Scenarios that stop agents; a collection of their own would boot another lab, so they share it and run last by name.</summary>
[Collection("agent-lab")]
public class CoordinatorKillLabTests(AgentLabFixture f)
{
    [Fact]
    public async Task Scenario4_KillCoordinator_OperationsBeforeDuringAfterCompleteExactlyOnce()
    {
        await f.AllLiveAsync();
        var leader = (await f.StatusAsync()).Leader!;
        var others = new[] { "node1", "node2", "node3" }.Where(h => h != leader).ToArray();
        async Task<(string Name, int Code)> CreateAsync(string host, string name) => (name, (await f.CliAsync(host, "lv", "create", name, "--size", "8M")).ExitCode);

        var before = Task.Run(async () =>
        {
            var codes = new List<(string, int)>();
            for (var i = 0; i < 3; i++)
            {
                codes.Add(await CreateAsync(others[0], $"k4-before-{i}"));
            }

            return codes;
        });
        await Task.Delay(1500);
        var killed = await global::VgMesh.Lab.Lab.RunAsync([global::VgMesh.Lab.Lab.Script, "--name", "agenttest", "agent", "kill", leader]);
        Assert.True(killed.Succeeded, killed.Stderr);
        var during = await Task.WhenAll(CreateAsync(others[1], "k4-during-0"), CreateAsync(others[1], "k4-during-1"));
        var newLeader = await AgentLabFixture.EventuallyAsync(async () => (await f.StatusAsync(others[0])).Leader, l => l is not null && l != leader, TimeSpan.FromSeconds(30), "a new coordinator");
        var after = new[] { await CreateAsync(others[0], "k4-after-0"), await CreateAsync(others[1], "k4-after-1") };

        var all = (await before).Concat(during).Concat(after).ToList();
        // 0: applied everywhere; 4: done, but the dead agent's host had not applied it when the wait ended.
        Assert.All(all, r => Assert.True(r.Item2 is 0 or 4, $"{r.Item1} exited {r.Item2}"));
        var lvs = await f.Lab.ExecOkAsync(newLeader!, ["lvm", "lvs", "--noheadings", "-o", "lv_name", "san"]);
        var names = lvs.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var (name, _) in all)
        {
            Assert.Single(names, n => n == name);
            // Exactly one lvcreate was started for it, across every host's journal. A coordinator
            // killed mid-command leaves an intent without a result (marked -2 at its restart); the
            // next coordinator runs the operation as recovered, finds the LV, and starts nothing.
            var runs = await f.JournaledAsync("lvcreate", $"san/{name}");
            Assert.True(runs == 1, $"{name}: lvcreate ran {runs} times");
        }

        // The killed agent comes back, catches up, and no operation runs again.
        var restarted = await global::VgMesh.Lab.Lab.RunAsync([global::VgMesh.Lab.Lab.Script, "--name", "agenttest", "agent", "start", leader]);
        Assert.True(restarted.Succeeded, restarted.Stderr);
        await AgentLabFixture.EventuallyAsync(async () => (await f.HostAsync(leader, leader))?.LagEvents ?? -1, lag => lag == 0, TimeSpan.FromSeconds(30), "the restarted agent catches up");
    }
}
