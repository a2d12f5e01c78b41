using System.Text.Json;
using VgMesh.Client;

namespace VgMesh.Agent.Tests.InLab;

/// <summary>Clones of a golden template diverge by known amounts, and `lv usage` reports them from another host.</summary>
// On the iSCSI lab (what these need, LVs, snapshots and hosts' directories, is the same on
// either LUN): moved there when it ran beside the main lab; since 2026-12-07 it runs after it.
[Collection("agent-iscsi-lab")]
public class CloneLabTests(IscsiAgentLabFixture f)
{
    [Fact]
    public async Task TwoClones_DivergeByKnownAmounts_UsageReportsThem_TheTemplateStays()
    {
        const string holder = "node2";
        await f.OkAsync("node1", "lv", "create", "gold", "--size", "32M");
        await f.OkAsync("node1", "lv", "activate", "gold", "--exclusive", "--host", holder);
        await f.OkAsync("node3", "lv", "clone", "gold", "--name", "vm-a", "--size", "16M");
        await f.OkAsync("node3", "lv", "clone", "gold", "--name", "vm-b", "--size", "16M");
        // 1 MiB into one clone, 4 MiB into the other: written into their copy-on-write space.
        await f.Lab.ExecOkAsync(holder, ["dd", "if=/dev/urandom", "of=/dev/san/vm-a", "bs=1M", "count=1", "oflag=direct"]);
        await f.Lab.ExecOkAsync(holder, ["dd", "if=/dev/urandom", "of=/dev/san/vm-b", "bs=1M", "count=4", "oflag=direct"]);

        // Where each clone is active comes from the hosts' reports, sent after their next pass.
        var usage = await AgentLabFixture.EventuallyAsync(async () =>
        {
            var r = await f.CliAsync("node3", "lv", "usage", "gold");
            Assert.True(r.ExitCode == 0, $"lv usage exited {r.ExitCode}: {r.Stderr}");
            return JsonSerializer.Deserialize(r.Stdout, ApiJsonContext.Default.ListCloneUsageView)!;
        }, u => u.Count == 2 && u.All(c => c.ActiveOn is not null), TimeSpan.FromSeconds(30), "both clones reported active on the template's host");
        Assert.Equal(["vm-a", "vm-b"], usage.Select(u => u.Name));
        Assert.All(usage, u => Assert.Equal((holder, "gold", 16L << 20), (u.ActiveOn, u.Template, u.CowBytes)));
        // The data, plus the store's header and metadata chunks.
        Assert.InRange(usage[0].AllocatedBytes!.Value, 1L << 20, (1L << 20) + (512 << 10));
        Assert.InRange(usage[1].AllocatedBytes!.Value, 4L << 20, (4L << 20) + (512 << 10));

        // The template is not removed while it has clones.
        await f.OkAsync("node1", "lv", "deactivate", "gold");
        var refused = await f.CliAsync("node1", "lv", "remove", "gold");
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("has-snapshots", refused.Stderr, StringComparison.Ordinal);
        Assert.Contains("vm-a, vm-b", refused.Stderr, StringComparison.Ordinal);
        var inactive = JsonSerializer.Deserialize((await f.CliAsync("node3", "lv", "usage", "gold")).Stdout, ApiJsonContext.Default.ListCloneUsageView)!;
        Assert.All(inactive, u => Assert.Null(u.AllocatedBytes));

        await f.OkAsync("node1", "lv", "remove", "vm-a");
        await f.OkAsync("node1", "lv", "remove", "vm-b");
        await f.OkAsync("node1", "lv", "remove", "gold");
    }
}
