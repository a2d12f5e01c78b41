using System.Text.Json;
using VgMesh.Client;

namespace VgMesh.Agent.Tests.InLab;

/// <summary>Clones of a golden template diverge by known amounts, and `lv usage` reports them from another host.</summary>
// On the iSCSI lab (what these need, LVs, snapshots and hosts' directories, is the same on
// either LUN): moved there when it ran beside the main lab; since 2026-12-07 it runs after it.
[Collection("agent-iscsi-lab")]
public class CloneLabTests(IscsiAgentLabFixture f)
{
    /// <summary><c>vgmesh lv usage TEMPLATE</c>, asked on node3.</summary>
    private async Task<List<CloneUsageView>> UsageAsync(string template)
    {
        var r = await f.CliAsync("node3", "lv", "usage", template);
        Assert.True(r.ExitCode == 0, $"lv usage exited {r.ExitCode}: {r.Stderr}");
        return JsonSerializer.Deserialize(r.Stdout, ApiJsonContext.Default.ListCloneUsageView)!;
    }

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
        var usage = await AgentLabFixture.EventuallyAsync(() => UsageAsync("gold"), u => u.Count == 2 && u.All(c => c.ActiveOn is not null), TimeSpan.FromSeconds(30), "both clones reported active on the template's host");
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
        var inactive = await UsageAsync("gold");
        Assert.All(inactive, u => Assert.Null(u.AllocatedBytes));

        await f.OkAsync("node1", "lv", "remove", "vm-a");
        await f.OkAsync("node1", "lv", "remove", "vm-b");
        await f.OkAsync("node1", "lv", "remove", "gold");
    }

    /// <summary>
    /// A thin template (pool and template made with LVM by hand on the pool's host, as an
    /// operator with a thin pool on the shared VG does): its clones, asked for on another host,
    /// are thin snapshots made where the pool is active, with no space of their own; their
    /// divergence is what the pool maps differently from the template (thin_delta), exact to the
    /// pool's 64 KiB blocks.
    /// </summary>
    [Fact]
    public async Task ThinTemplate_ClonesAreThinSnapshotsInItsPool_UsageFromThinDelta()
    {
        const string holder = "node2";
        try
        {
            await f.Lab.ExecOkAsync(holder, ["lvm", "lvcreate", "--yes", "--type", "thin-pool", "--size", "64M", "--chunksize", "64K", "--name", "tpg", "san"]);
            await f.Lab.ExecOkAsync(holder, ["lvm", "lvcreate", "--yes", "--virtualsize", "32M", "--thinpool", "tpg", "--name", "tgold", "san"]);
            await f.Lab.ExecOkAsync(holder, ["dd", "if=/dev/urandom", "of=/dev/san/tgold", "bs=1M", "count=8", "oflag=direct"]);

            // Asked on node3; made on node2, where the pool is active (the hosts' reports say so).
            var a = await AgentLabFixture.EventuallyAsync(() => f.CliAsync("node3", "lv", "clone", "tgold", "--name", "tvm-a"),
                r => r.ExitCode == 0, TimeSpan.FromSeconds(30), "the first thin clone made");
            Assert.Contains($"thin snapshot san/tvm-a of san/tgold on {holder}", a.Stdout, StringComparison.Ordinal);
            await f.OkAsync("node3", "lv", "clone", "tgold", "--name", "tvm-b");
            var lvs = await f.Lab.ExecOkAsync(holder, ["lvm", "lvs", "--noheadings", "--separator", ",", "-o", "lv_name,lv_attr,pool_lv,origin", "san/tvm-a", "san/tvm-b"]);
            foreach (var clone in new[] { "tvm-a", "tvm-b" })
            {
                // 'V': a thin volume; '-' in the fifth place: made inactive.
                Assert.Matches($@"(?m)^\s*{clone},V[^,]{{3}}-[^,]*,tpg,tgold\s*$", lvs);
            }

            // 1 MiB into one clone, 4 MiB into the other, activated through vgmesh on the pool's host.
            await f.OkAsync("node1", "lv", "activate", "tvm-a", "--exclusive", "--host", holder);
            await f.OkAsync("node1", "lv", "activate", "tvm-b", "--exclusive", "--host", holder);
            await f.Lab.ExecOkAsync(holder, ["dd", "if=/dev/urandom", "of=/dev/san/tvm-a", "bs=1M", "count=1", "oflag=direct"]);
            await f.Lab.ExecOkAsync(holder, ["dd", "if=/dev/urandom", "of=/dev/san/tvm-b", "bs=1M", "seek=2", "count=4", "oflag=direct"]);

            // From node3, which relays to node2's agent: exact, since the writes cover whole blocks.
            var usage = await AgentLabFixture.EventuallyAsync(() => UsageAsync("tgold"), u => u.Count == 2 && u.All(c => c.AllocatedBytes is not null), TimeSpan.FromSeconds(30), "both thin clones' divergence read where the pool is active");
            Assert.Equal(["tvm-a", "tvm-b"], usage.Select(u => u.Name));
            Assert.Equal([(holder, "tgold", 32L << 20, 1L << 20), (holder, "tgold", 32L << 20, 4L << 20)],
                usage.Select(u => (u.ActiveOn, u.Template, u.CowBytes, u.AllocatedBytes!.Value)));

            // A thin clone moves to no other host: LVM would activate the pool there too.
            var away = await f.CliAsync("node1", "lv", "activate", "tvm-a", "--exclusive", "--host", "node3");
            Assert.Equal(1, away.ExitCode);
            Assert.Contains($"pool san/tpg, which is active on {holder}", away.Stderr, StringComparison.Ordinal);
            Assert.False((await f.Lab.ExecAsync("node3", ["dmsetup", "info", "san-tpg-tpool"])).Succeeded);

            // The template is not removed while it has clones, thin ones included.
            var refused = await f.CliAsync("node1", "lv", "remove", "tgold");
            Assert.Equal(1, refused.ExitCode);
            Assert.Contains("tvm-a, tvm-b", refused.Stderr, StringComparison.Ordinal);

            // A thin clone's removal, asked on node1, runs where the pool is.
            await f.OkAsync("node1", "lv", "deactivate", "tvm-a");
            var removed = await f.OkAsync("node1", "lv", "remove", "tvm-a");
            Assert.Contains($"removed thin volume san/tvm-a on {holder}, where its pool is active", removed.Message, StringComparison.Ordinal);

            // The pool holds no metadata snapshot afterwards (thin-pool status: '-' where its root would be).
            var status = (await f.Lab.ExecOkAsync(holder, ["dmsetup", "status", "san-tpg-tpool"])).Split(' ', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal("-", status[6]);
        }
        finally
        {
            await f.CliAsync("node1", "lv", "deactivate", "tvm-a");
            await f.CliAsync("node1", "lv", "deactivate", "tvm-b");
            await f.Lab.ExecAsync(holder, ["lvm", "lvremove", "--yes", "san/tpg"]);
        }
    }
}
