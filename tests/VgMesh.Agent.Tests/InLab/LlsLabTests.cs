using System.Text.Json;
using VgMesh.Client;
using VgMesh.Lvm.Commands;

namespace VgMesh.Agent.Tests.InLab;

/// <summary>
/// LLS in real LXC containers inside the lab hosts: c1 and c2 on node1, c3 on node2 (the
/// fixture's <c>--containers</c>), each with the host's <c>/run/lls/NAME</c> bound at <c>/lls</c>.
/// </summary>
[Collection("agent-lab")]
public class LlsLabTests(AgentLabFixture f)
{
    private Task<ProcessResult> InAsync(string host, string container, params string[] command) => f.Lab.ContainerExecAsync(host, container, command);

    private async Task<string> InOkAsync(string host, string container, params string[] command)
    {
        var r = await InAsync(host, container, command);
        Assert.True(r.Succeeded, $"{string.Join(' ', command)} in {container} on {host} exited {r.ExitCode}: {r.Stderr}");
        return r.Stdout;
    }

    private async Task<LlsVolumeView> LlsOkAsync(string host, string container, params string[] args) =>
        JsonSerializer.Deserialize(await InOkAsync(host, container, ["/lls/lls", "--json", .. args]), ApiJsonContext.Default.LlsVolumeView)!;

    private async Task<List<LlsVolumeView>> ListAsync(string host, string container) =>
        JsonSerializer.Deserialize(await InOkAsync(host, container, "/lls/lls", "--json", "list"), ApiJsonContext.Default.ListLlsVolumeView)!;

    [Fact]
    public async Task SeedWorkflow_CreateMountSnapshotReadOldContentsDelete()
    {
        await f.AllLiveAsync();
        var data = await LlsOkAsync("node1", "c1", "create", "data", "--size", "32M");
        Assert.Equal(("/dev/lls/data", 32L << 20), (data.Device, data.SizeBytes));
        // The LV is the container's, exclusively on its host, tagged with its owner in the shared metadata.
        var lv = JsonSerializer.Deserialize((await f.CliAsync("node1", "lv", "show", "lls.node1.c1.data")).Stdout, ApiJsonContext.Default.LvView)!;
        Assert.Equal(("node1", "exclusive"), (lv.ClaimedBy, lv.ClaimMode));
        Assert.Contains("lls.owner=node1/c1", lv.Tags);

        await InOkAsync("node1", "c1", "mke2fs", "-q", "/dev/lls/data");
        await InOkAsync("node1", "c1", "mkdir", "-p", "/mnt/data", "/mnt/snap");
        await InOkAsync("node1", "c1", "mount", "/dev/lls/data", "/mnt/data");
        await InOkAsync("node1", "c1", "sh", "-c", "echo one > /mnt/data/f && sync");

        var snap = await LlsOkAsync("node1", "c1", "snapshot", "data", "--name", "before", "--size", "8M");
        Assert.Equal(("data", true, "/dev/lls/before"), (snap.Origin, snap.Snapshot, snap.Device));
        await InOkAsync("node1", "c1", "sh", "-c", "echo two > /mnt/data/f && sync");
        await InOkAsync("node1", "c1", "mount", "-o", "ro", "/dev/lls/before", "/mnt/snap");
        Assert.Equal("one", (await InOkAsync("node1", "c1", "cat", "/mnt/snap/f")).Trim());
        Assert.Equal("two", (await InOkAsync("node1", "c1", "cat", "/mnt/data/f")).Trim());

        // Mounted: refused, nothing changed.
        var busy = await InAsync("node1", "c1", "/lls/lls", "delete", "before");
        Assert.Equal(1, busy.ExitCode);
        Assert.Contains("unmount it first", busy.Stderr, StringComparison.Ordinal);
        var origin = await InAsync("node1", "c1", "/lls/lls", "delete", "data");
        Assert.Contains("has snapshots (before)", origin.Stderr, StringComparison.Ordinal);

        await InOkAsync("node1", "c1", "umount", "/mnt/snap");
        await InOkAsync("node1", "c1", "umount", "/mnt/data");
        await LlsOkAsync("node1", "c1", "delete", "before");
        await LlsOkAsync("node1", "c1", "delete", "data");
        Assert.Empty(await ListAsync("node1", "c1"));
        Assert.False((await InAsync("node1", "c1", "test", "-e", "/dev/lls/data")).Succeeded);
        Assert.NotEqual(0, (await f.CliAsync("node1", "lv", "show", "lls.node1.c1.data")).ExitCode);
    }

    [Fact]
    public async Task Containers_CannotSeeOrTouchEachOthersVolumes_AndTheHostIsRefused()
    {
        await f.AllLiveAsync();
        var mine = await LlsOkAsync("node1", "c1", "create", "iso", "--size", "8M");
        try
        {
            // Completion offers the container's own names from the agent (the directive bash's
            // function from 'lls completion bash' asks), and never another container's. Asked
            // until it does: completion gives up on the agent after 2 s by design (a shell must not
            // hang on Tab), and a lab host under both labs' load sometimes answers later (red in
            // the fresh-clone run of 1c2edd5).
            // With 15 s for the agent (LLS_COMPLETION_TIMEOUT): the default 2 s ran out for a whole
            // minute in the fresh-clone run of 554b1f8 (load 8: the main and iSCSI labs side by side).
            await AgentLabFixture.EventuallyAsync(async () => (await InOkAsync("node1", "c1", "env", "LLS_COMPLETION_TIMEOUT=15", "/lls/lls", "[suggest:7]", "delete ")).Split('\n', StringSplitOptions.TrimEntries),
                names => names.Contains("iso"), TimeSpan.FromSeconds(60), "completion in c1 offers its volume iso");
            Assert.DoesNotContain("iso", (await InOkAsync("node1", "c2", "env", "LLS_COMPLETION_TIMEOUT=15", "/lls/lls", "[suggest:7]", "delete ")).Split('\n', StringSplitOptions.TrimEntries));

            // c2 on the same host and c3 on another: the name "iso" is theirs to use, never c1's volume.
            foreach (var (host, other) in new[] { ("node1", "c2"), ("node2", "c3") })
            {
                Assert.DoesNotContain(await ListAsync(host, other), v => v.Name == "iso");
                foreach (var args in new[] { new[] { "delete", "iso" }, ["snapshot", "iso", "--name", "s"], ["resize", "iso", "--size", "16M"] })
                {
                    var r = await InAsync(host, other, ["/lls/lls", .. args]);
                    Assert.Equal(1, r.ExitCode);
                    Assert.Contains("not-found", r.Stderr, StringComparison.Ordinal);
                }

                // Names that try to leave the container's prefix are refused before anything runs.
                var escape = await InAsync(host, other, "/lls/lls", "delete", "../lls.node1.c1.iso");
                Assert.Contains("invalid-name", escape.Stderr, StringComparison.Ordinal);
            }

            // A node c2 makes itself of c1's device: the kernel refuses to open it.
            var numbers = (await f.Lab.ExecOkAsync("node1", ["dmsetup", "info", "-c", "--noheadings", "-o", "major,minor", "san-lls.node1.c1.iso"])).Trim().Split(':');
            await InOkAsync("node1", "c2", "mknod", "/tmp/stolen", "b", numbers[0], numbers[1]);
            var stolen = await InAsync("node1", "c2", "dd", "if=/tmp/stolen", "of=/dev/null", "bs=4096", "count=1");
            Assert.NotEqual(0, stolen.ExitCode);
            Assert.Contains("not permitted", stolen.Stderr, StringComparison.OrdinalIgnoreCase);
            Assert.True((await InAsync("node1", "c1", "dd", "if=/dev/lls/iso", "of=/dev/null", "bs=4096", "count=1")).Succeeded);

            // A container whose /dev/lls points out of it (an absolute link resolves against the
            // agent's root under /proc/PID/root): refused, nothing made or removed on the host.
            await InOkAsync("node1", "c2", "sh", "-c", "rm -rf /dev/lls && ln -s /etc /dev/lls");
            var link = await InAsync("node1", "c2", "/lls/lls", "list");
            await InOkAsync("node1", "c2", "rm", "/dev/lls");
            Assert.Equal(1, link.ExitCode);
            Assert.Contains("/dev/lls in container c2 is a symbolic link", link.Stderr, StringComparison.Ordinal);

            // A process on the host, outside every container, on c1's socket.
            var host1 = await f.Lab.ExecAsync("node1", ["/run/lls/c1/lls", "--socket", "/run/lls/c1/lls.sock", "list"]);
            Assert.Equal(1, host1.ExitCode);
            Assert.Contains("forbidden", host1.Stderr, StringComparison.Ordinal);
            Assert.Contains("not in a registered container", host1.Stderr, StringComparison.Ordinal);
        }
        finally
        {
            await LlsOkAsync("node1", "c1", "delete", mine.Name);
        }
    }

    [Fact]
    public async Task Flags_HoldInsideTheContainer_AndMountOnBootMountsFstabsVolumes()
    {
        await f.AllLiveAsync();
        await LlsOkAsync("node1", "c2", "create", "fl", "--size", "8M");
        try
        {
            var write = new[] { "dd", "if=/dev/zero", "of=/dev/lls/fl", "bs=4096", "count=1", "conv=fsync" };
            var read = new[] { "dd", "if=/dev/lls/fl", "of=/dev/null", "bs=4096", "count=1" };
            var ro = await LlsOkAsync("node1", "c2", "set", "fl", "--read-only");
            Assert.Equal(["read-only"], ro.Flags);
            Assert.Equal("/dev/lls/fl", ro.Device);
            var refused = await InAsync("node1", "c2", write);
            Assert.NotEqual(0, refused.ExitCode);
            Assert.Contains("not permitted", refused.Stderr, StringComparison.OrdinalIgnoreCase);
            await InOkAsync("node1", "c2", read);
            await LlsOkAsync("node1", "c2", "set", "fl", "--read-write");
            await InOkAsync("node1", "c2", write);

            // Hidden: not listed, no node, and a node made by hand does not open.
            var numbers = (await f.Lab.ExecOkAsync("node1", ["dmsetup", "info", "-c", "--noheadings", "-o", "major,minor", "san-lls.node1.c2.fl"])).Trim().Split(':');
            var hidden = await LlsOkAsync("node1", "c2", "set", "fl", "--hidden");
            Assert.Null(hidden.Device);
            Assert.DoesNotContain(await ListAsync("node1", "c2"), v => v.Name == "fl");
            Assert.False((await InAsync("node1", "c2", "test", "-e", "/dev/lls/fl")).Succeeded);
            await InOkAsync("node1", "c2", "mknod", "/tmp/fl", "b", numbers[0], numbers[1]);
            Assert.NotEqual(0, (await InAsync("node1", "c2", "dd", "if=/tmp/fl", "of=/dev/null", "bs=4096", "count=1")).ExitCode);
            await InOkAsync("node1", "c2", "rm", "/tmp/fl");
            await LlsOkAsync("node1", "c2", "set", "fl", "--visible");

            // Not mountable: listed, without a device.
            await LlsOkAsync("node1", "c2", "set", "fl", "--no-mount");
            Assert.Null(Assert.Single(await ListAsync("node1", "c2"), v => v.Name == "fl").Device);
            Assert.False((await InAsync("node1", "c2", "test", "-e", "/dev/lls/fl")).Succeeded);
            await LlsOkAsync("node1", "c2", "set", "fl", "--mount");

            // The container's fstab names it: mount-on-boot mounts it (the seed's rc.local step).
            await InOkAsync("node1", "c2", "mke2fs", "-q", "/dev/lls/fl");
            await InOkAsync("node1", "c2", "sh", "-c", "mkdir -p /mnt/fl && echo '/dev/lls/fl /mnt/fl ext2 defaults 0 0' > /etc/fstab");
            Assert.Contains("mounted /dev/lls/fl on /mnt/fl", await InOkAsync("node1", "c2", "/lls/lls", "mount-on-boot"), StringComparison.Ordinal);
            Assert.Contains(" /mnt/fl ", await InOkAsync("node1", "c2", "cat", "/proc/mounts"), StringComparison.Ordinal);
            var busy = await InAsync("node1", "c2", "/lls/lls", "set", "fl", "--read-only");
            Assert.Contains("unmount it before making it read-only", busy.Stderr, StringComparison.Ordinal);
            await InOkAsync("node1", "c2", "umount", "/mnt/fl");
        }
        finally
        {
            await InAsync("node1", "c2", "sh", "-c", ": > /etc/fstab");
            await LlsOkAsync("node1", "c2", "delete", "fl");
        }
    }

    [Fact]
    public async Task AWriteBurst_GrowsTheSnapshotBeforeItFills_AndTheAdministratorIsMailed()
    {
        await f.AllLiveAsync();
        var mail = (await f.Lab.EnvAsync())["VGMESH_LAB_MAIL_DIR"];
        var mailed = Directory.GetFiles(mail).Length;
        await LlsOkAsync("node1", "c1", "create", "burst", "--size", "64M");
        try
        {
            await LlsOkAsync("node1", "c1", "snapshot", "burst", "--name", "bsnap", "--size", "8M");
            // 12 MiB of new data at about 1 MiB/s into the origin: an 8 MiB snapshot overflows unless it grows.
            await InOkAsync("node1", "c1", "sh", "-c", "i=0; while [ $i -lt 12 ]; do dd if=/dev/urandom of=/dev/lls/burst bs=1M count=1 seek=$i oflag=direct 2>/dev/null || exit 1; i=$((i+1)); sleep 1; done");

            var snap = Assert.Single(await ListAsync("node1", "c1"), v => v.Name == "bsnap");
            Assert.True(snap.SizeBytes > 8L << 20, $"bsnap is still {snap.SizeBytes} bytes");
            var attr = (await f.Lab.ExecOkAsync("node1", ["lvm", "lvs", "--noheadings", "-o", "lv_attr", "san/lls.node1.c1.bsnap"])).Trim();
            Assert.NotEqual('I', attr[4]); // not invalidated
            await InOkAsync("node1", "c1", "dd", "if=/dev/lls/bsnap", "of=/dev/null", "bs=1M", "count=12");

            // The growth is an event (an extend like any other), a metric, and a mail.
            var events = (await f.CliAsync("node1", "events")).Stdout;
            Assert.Contains("lls.node1.c1.bsnap", events, StringComparison.Ordinal);
            Assert.Contains("lv.extended", events, StringComparison.Ordinal);
            var metrics = await f.MetricsAsync("node1");
            Assert.Matches(@"vgmesh_lls_snapshot_grown_total\{[^}]*owner=""node1/c1""[^}]*\} [1-9]", metrics);
            var grown = await AgentLabFixture.EventuallyAsync(() => Task.FromResult(Directory.GetFiles(mail).Skip(mailed).Select(File.ReadAllText).ToList()),
                m => m.Any(t => t.Contains("Subject: vgmesh: snapshot lls.node1.c1.bsnap of node1/c1 grown on node1", StringComparison.Ordinal)), TimeSpan.FromSeconds(30), "the growth mail");
            Assert.Contains(grown, t => t.Contains("To: storage-admin@lab.invalid", StringComparison.Ordinal));
        }
        finally
        {
            await InAsync("node1", "c1", "/lls/lls", "delete", "bsnap");
            await LlsOkAsync("node1", "c1", "delete", "burst");
        }
    }

    [Fact]
    public async Task UnusedSnapshots_AreCollected_MountedAndKeptOnesStay()
    {
        await f.AllLiveAsync();
        await LlsOkAsync("node1", "c2", "create", "col", "--size", "16M");
        try
        {
            await InOkAsync("node1", "c2", "mke2fs", "-q", "/dev/lls/col");
            foreach (var snap in new[] { "old", "kept-1", "inuse" })
            {
                await LlsOkAsync("node1", "c2", "snapshot", "col", "--name", snap, "--size", "4M");
            }

            await InOkAsync("node1", "c2", "sh", "-c", "mkdir -p /mnt/inuse && mount -o ro /dev/lls/inuse /mnt/inuse");
            var listed = await ListAsync("node1", "c2");
            Assert.NotNull(Assert.Single(listed, v => v.Name == "old").CollectableAt);
            Assert.Null(Assert.Single(listed, v => v.Name == "kept-1").CollectableAt); // the container's Keep: ["kept*"]

            // The lab collects after 60 s unused (Lls.CollectUnusedAfterSeconds).
            var after = await AgentLabFixture.EventuallyAsync(() => ListAsync("node1", "c2"), l => l.All(v => v.Name != "old"), TimeSpan.FromSeconds(150), "the unused snapshot collected");
            Assert.Contains(after, v => v.Name == "kept-1");
            Assert.Contains(after, v => v.Name == "inuse");
            var removed = (await f.CliAsync("node1", "events")).Stdout.Split('\n').Where(l => l.Contains("lv.removed", StringComparison.Ordinal) && l.Contains("lls.node1.c2.old", StringComparison.Ordinal)).ToList();
            Assert.Contains(removed, l => l.Contains("collected", StringComparison.Ordinal));
        }
        finally
        {
            await InAsync("node1", "c2", "umount", "/mnt/inuse");
            foreach (var snap in new[] { "old", "kept-1", "inuse" })
            {
                await InAsync("node1", "c2", "/lls/lls", "delete", snap);
            }

            await LlsOkAsync("node1", "c2", "delete", "col");
        }
    }

    [Fact]
    public async Task OverQuota_RefusedWithTheFigures_NothingChanged()
    {
        await f.AllLiveAsync();
        await LlsOkAsync("node2", "c3", "create", "q1", "--size", "300M");
        try
        {
            var seqno = await f.SeqnoAsync();
            var r = await InAsync("node2", "c3", "/lls/lls", "create", "q2", "--size", "100M");
            Assert.Equal(1, r.ExitCode);
            Assert.Contains("over-quota", r.Stderr, StringComparison.Ordinal);
            Assert.Contains($"{400L << 20} bytes in all, over the {384L << 20} allowed", r.Stderr, StringComparison.Ordinal);
            Assert.Equal(seqno, await f.SeqnoAsync());
            Assert.Equal(["q1"], (await ListAsync("node2", "c3")).Select(v => v.Name));
        }
        finally
        {
            await LlsOkAsync("node2", "c3", "delete", "q1");
        }
    }

    [Fact]
    public async Task Operators_SetQuotasAndFlagsWithVgmesh_FromAnyHost()
    {
        await f.AllLiveAsync();
        await LlsOkAsync("node2", "c3", "create", "oq1", "--size", "16M");
        try
        {
            // Set on node3, which hosts no container: one limit lowered, one lifted.
            var set = await f.OkAsync("node3", "lls", "quota", "set", "node2/c3", "--max-volumes", "1", "--max-bytes", "none");
            Assert.Contains("quota of node2/c3 set: bytes=none volumes=1", set.Message, StringComparison.Ordinal);
            var seen = JsonSerializer.Deserialize((await f.CliAsync("node2", "lls", "quota", "list")).Stdout, ApiJsonContext.Default.ListLlsQuotaView)!.Single(q => q.Owner == "node2/c3");
            Assert.Equal(new LlsLimits(null, 1, 3, 64L << 20), seen.Effective); // the rest from node2's configuration
            Assert.Equal((16L << 20, 1), (seen.Bytes, seen.Volumes));
            var elsewhere = JsonSerializer.Deserialize((await f.CliAsync("node1", "lls", "quota", "list")).Stdout, ApiJsonContext.Default.ListLlsQuotaView)!.Single(q => q.Owner == "node2/c3");
            Assert.Null(elsewhere.Configured);
            Assert.Equal("1", elsewhere.Set["volumes"]);

            var r = await InAsync("node2", "c3", "/lls/lls", "create", "oq2", "--size", "8M");
            Assert.Equal(1, r.ExitCode);
            Assert.Contains("2 volumes, over the 1 allowed", r.Stderr, StringComparison.Ordinal);

            // Bad input: refused before anything is queued, nothing changed.
            var seqno = await f.SeqnoAsync();
            var bad = await f.CliAsync("node1", "lls", "quota", "set", "node2/c3", "--max-volumes", "many");
            Assert.Equal(1, bad.ExitCode);
            Assert.Contains("'many' is not a count of volumes for node2/c3", bad.Stderr, StringComparison.Ordinal);
            Assert.Equal(2, (await f.CliAsync("node1", "lls", "quota", "set", "c3", "--max-volumes", "2")).ExitCode);
            Assert.Equal(seqno, await f.SeqnoAsync());

            await f.OkAsync("node1", "lls", "quota", "reset", "node2/c3");
            await LlsOkAsync("node2", "c3", "create", "oq2", "--size", "8M");

            // A flag an operator puts on from another host takes the node away without the container asking.
            Assert.Equal("/dev/lls/oq1", Assert.Single(await ListAsync("node2", "c3"), v => v.Name == "oq1").Device);
            await f.OkAsync("node3", "lv", "tag", "lls.node2.c3.oq1", "--add", "lls.hidden");
            await AgentLabFixture.EventuallyAsync(async () => (await InAsync("node2", "c3", "test", "-e", "/dev/lls/oq1")).Succeeded, present => !present,
                TimeSpan.FromSeconds(30), "the hidden volume's node gone from c3");
            await f.OkAsync("node3", "lv", "tag", "lls.node2.c3.oq1", "--remove", "lls.hidden");
            Assert.Equal("/dev/lls/oq1", Assert.Single(await ListAsync("node2", "c3"), v => v.Name == "oq1").Device);
        }
        finally
        {
            await f.CliAsync("node1", "lls", "quota", "reset", "node2/c3");
            await InAsync("node2", "c3", "/lls/lls", "delete", "oq2");
            await LlsOkAsync("node2", "c3", "delete", "oq1");
        }
    }
}
