using System.Text.Json;
using VgMesh.Client;

namespace VgMesh.Agent.Tests.InLab;

/// <summary>
/// Delta sync on real snapshots: random writes (aligned and unaligned, a fixed seed) into an
/// origin after its snapshot, <c>vgmesh sync</c> from another host straight onto an LV active
/// there, and the destination's checksum equal to the origin's.
/// </summary>
// On the iSCSI lab, like the backup and clone tests: its collection runs beside the main one,
// which alone ran 12.6 of the 40.9 minutes of ./ops/test of 1d21ec0 after the iSCSI one ended.
[Collection("agent-iscsi-lab")]
public class SyncLabTests(IscsiAgentLabFixture f)
{
    private Task<string> ShaAsync(string host, string lv) =>
        f.Lab.ExecOkAsync(host, ["sh", "-c", $"dd if=/dev/san/{lv} iflag=direct bs=1M 2>/dev/null | sha256sum"]);

    /// <summary>Origin and destination created, each active exclusively on its host, both zeros: the same starting point.</summary>
    private async Task PrepareAsync((string Lv, string Host) origin, (string Lv, string Host) dest, int mib)
    {
        foreach (var (lv, host) in new[] { origin, dest })
        {
            await f.OkAsync("node1", "lv", "create", lv, "--size", $"{mib}M");
            await f.OkAsync("node1", "lv", "activate", lv, "--exclusive", "--host", host);
            await f.Lab.ExecOkAsync(host, ["dd", "if=/dev/zero", $"of=/dev/san/{lv}", "bs=1M", $"count={mib}", "oflag=direct"]);
        }
    }

    /// <summary>A script of random writes into a 32 MiB LV after its snapshot (a fixed seed): aligned 4 KiB blocks, and unaligned byte ranges; then sync.</summary>
    private static string RandomWrites(string lv, int seed, int count)
    {
        var rng = new Random(seed);
        var script = new System.Text.StringBuilder("set -e\n");
        for (var i = 0; i < count; i++)
        {
            script.Append($"dd if=/dev/urandom of=/dev/san/{lv} bs=4096 seek={rng.Next(0, 8192)} count=1 conv=notrunc oflag=direct 2>/dev/null\n");
            script.Append($"dd if=/dev/urandom of=/dev/san/{lv} bs=1 seek={rng.Next(0, (32 << 20) - 10000)} count={rng.Next(1, 9000)} conv=notrunc 2>/dev/null\n");
        }

        return script.Append("sync\n").ToString();
    }

    [Fact]
    public async Task SyncToAnLvOnAnotherHost_MakesItEqualToTheOrigin()
    {
        const string holder = "node2", dest = "node3";
        await PrepareAsync(("so1", holder), ("sd1", dest), 32);
        await f.OkAsync("node1", "lv", "snapshot", "so1", "--name", "so1snap", "--size", "8M", "--chunk-size", "4K");

        await f.Lab.ExecOkAsync(holder, ["sh", "-c", RandomWrites("so1", 1205, 40)]);
        Assert.NotEqual(await ShaAsync(holder, "so1"), await ShaAsync(dest, "sd1"));

        // On the destination's host: the agent there relays the holder's stream; the CLI writes the LV.
        var sync = await f.Lab.ExecAsync(dest, ["vgmesh", "sync", "so1snap", "--to", "/dev/san/sd1"]);
        Assert.True(sync.ExitCode == 0, $"vgmesh sync exited {sync.ExitCode}: {sync.Stderr}");
        Assert.Contains("applied", sync.Stderr, StringComparison.Ordinal);
        Assert.Equal(await ShaAsync(holder, "so1"), await ShaAsync(dest, "sd1"));

        // Bad input changes nothing: not a snapshot, a missing destination.
        var before = await ShaAsync(dest, "sd1");
        var notSnap = await f.Lab.ExecAsync(dest, ["vgmesh", "sync", "so1", "--to", "/dev/san/sd1"]);
        Assert.Equal(1, notSnap.ExitCode);
        Assert.Contains("not-a-snapshot", notSnap.Stderr, StringComparison.Ordinal);
        var missing = await f.Lab.ExecAsync(dest, ["vgmesh", "sync", "so1snap", "--to", "/dev/san/nosuchlv"]);
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("/dev/san/nosuchlv", missing.Stderr, StringComparison.Ordinal);
        Assert.Equal(before, await ShaAsync(dest, "sd1"));

        // The snapshot goes while its origin stays active: removed in the holder's kernel.
        var removed = await f.OkAsync("node1", "lv", "remove", "so1snap");
        Assert.Contains($"on {holder}, where its origin is active", removed.Message, StringComparison.Ordinal);
        Assert.Null(await f.TableSectorsAsync(holder, "san-so1snap"));
        Assert.NotNull(await f.TableSectorsAsync(holder, "san-so1"));
        await f.OkAsync("node1", "lv", "deactivate", "so1");
        await f.OkAsync("node1", "lv", "deactivate", "sd1");
        await f.OkAsync("node1", "lv", "remove", "so1");
        await f.OkAsync("node1", "lv", "remove", "sd1");
    }

    /// <summary>
    /// A thin snapshot: the pool, its origin and the snapshot made with LVM by hand on the holder,
    /// as an operator with a thin pool on the shared VG does (a pool is active on one host only).
    /// Before the snapshot, origin and destination get the same content, so thin_delta reports
    /// shared ranges besides the changed ones; after it, random writes and a discard (a range the
    /// origin unmapped: it reads zeros now, and so must the copy).
    /// </summary>
    [Fact]
    public async Task ThinSnapshot_ChangesFromThinDelta_SyncToAnLvOnAnotherHost_MakesItEqualToTheOrigin()
    {
        const string holder = "node2", dest = "node3";
        await f.OkAsync("node1", "lv", "create", "td", "--size", "32M");
        await f.OkAsync("node1", "lv", "activate", "td", "--exclusive", "--host", dest);
        try
        {
            await f.Lab.ExecOkAsync(holder, ["lvm", "lvcreate", "--yes", "--type", "thin-pool", "--size", "64M", "--name", "tp", "san"]);
            await f.Lab.ExecOkAsync(holder, ["lvm", "lvcreate", "--yes", "--virtualsize", "32M", "--thinpool", "tp", "--name", "to", "san"]);
            const string Same = "yes vgmesh-thin | dd of=/dev/san/{0} bs=1M count=12 iflag=fullblock oflag=direct 2>/dev/null";
            await f.Lab.ExecOkAsync(holder, ["sh", "-c", string.Format(System.Globalization.CultureInfo.InvariantCulture, Same, "to")]);
            await f.Lab.ExecOkAsync(dest, ["sh", "-c", "dd if=/dev/zero of=/dev/san/td bs=1M count=32 oflag=direct 2>/dev/null; " + string.Format(System.Globalization.CultureInfo.InvariantCulture, Same, "td")]);
            Assert.Equal(await ShaAsync(holder, "to"), await ShaAsync(dest, "td"));
            await f.Lab.ExecOkAsync(holder, ["lvm", "lvcreate", "--yes", "--snapshot", "--name", "tosnap", "san/to"]);

            await f.Lab.ExecOkAsync(holder, ["sh", "-c", RandomWrites("to", 1207, 30) + "blkdiscard --offset 4194304 --length 1048576 /dev/san/to\n"]);
            Assert.NotEqual(await ShaAsync(holder, "to"), await ShaAsync(dest, "td"));

            // On the destination's host: its agent relays to node2's, where the pool is active.
            var sync = await f.Lab.ExecAsync(dest, ["vgmesh", "sync", "tosnap", "--to", "/dev/san/td"]);
            Assert.True(sync.ExitCode == 0, $"vgmesh sync of a thin snapshot exited {sync.ExitCode}: {sync.Stderr}");
            Assert.Equal(await ShaAsync(holder, "to"), await ShaAsync(dest, "td"));
            // Far less than the LV: the changed 64 KiB blocks only (at most 106 of the 512).
            var bytes = long.Parse(System.Text.RegularExpressions.Regex.Match(sync.Stderr, @"applied \d+ records, (\d+) bytes").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            Assert.InRange(bytes, 1, 106L << 16);

            // The pool holds no metadata snapshot afterwards (thin-pool status: '-' where its root would be).
            var status = (await f.Lab.ExecOkAsync(holder, ["dmsetup", "status", "san-tp-tpool"])).Split(' ', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal("-", status[6]);
        }
        finally
        {
            await f.Lab.ExecAsync(holder, ["lvm", "lvremove", "--yes", "san/tp"]);
            await f.CliAsync("node1", "lv", "deactivate", "td");
            await f.CliAsync("node1", "lv", "remove", "td");
        }
    }

    [Fact]
    public async Task SyncOverSsh_AppliesOnTheFarHost_WithASnapbackThere()
    {
        const string holder = "node1", far = "node3";
        var env = await f.Lab.EnvAsync();
        await PrepareAsync(("ss1", holder), ("sd2", far), 16);
        await f.OkAsync("node1", "lv", "snapshot", "ss1", "--name", "ss1snap", "--size", "8M");
        await f.Lab.ExecOkAsync(holder, ["sh", "-c", "dd if=/dev/urandom of=/dev/san/ss1 bs=4096 seek=7 count=300 conv=notrunc oflag=direct 2>/dev/null; dd if=/dev/urandom of=/dev/san/ss1 bs=1 seek=9000001 count=5555 conv=notrunc 2>/dev/null; sync"]);
        var zeros = await ShaAsync(far, "sd2");

        // From the holder, over ssh to the far host's management address, as to a machine outside
        // the cluster: ssh runs vgmesh there (not on ssh's PATH in the lab, hence --remote-vgmesh).
        var snapback = $"{env["VGMESH_LAB_NODE3_DIR"]}/sd2.snapback";
        string[] ssh = ["--ssh-option", $"IdentityFile={env["VGMESH_LAB_SSH_KEY"]}", "--ssh-option", "StrictHostKeyChecking=no", "--ssh-option", "UserKnownHostsFile=/dev/null",
            "--remote-vgmesh", $"{env["VGMESH_LAB_DIR"]}/bin/vgmesh"];
        var dest = $"ssh://root@{env["VGMESH_LAB_NODE3_MGMT"]}/dev/san/sd2";
        try
        {
            var sync = await f.Lab.ExecAsync(holder, ["vgmesh", "sync", "ss1snap", "--to", dest, "--snapback", snapback, .. ssh]);
            Assert.True(sync.ExitCode == 0, $"vgmesh sync over ssh exited {sync.ExitCode}: {sync.Stderr}");
            Assert.Contains("applied", sync.Stderr, StringComparison.Ordinal);
            Assert.Equal(await ShaAsync(holder, "ss1"), await ShaAsync(far, "sd2"));

            // The snapback was written on the far host; applied there, it gives the zeros back.
            await f.Lab.ExecOkAsync(far, ["vgmesh", "sync", "--apply", snapback, "/dev/san/sd2"]);
            Assert.Equal(zeros, await ShaAsync(far, "sd2"));

            // A destination that could be read as shell syntax, or a missing device there: refused, nothing changed.
            var hostile = await f.Lab.ExecAsync(holder, ["vgmesh", "sync", "ss1snap", "--to", $"ssh://root@{env["VGMESH_LAB_NODE3_MGMT"]}/dev/san/sd2;reboot", .. ssh]);
            Assert.Equal(1, hostile.ExitCode);
            Assert.Contains("bad-destination", hostile.Stderr, StringComparison.Ordinal);
            var missing = await f.Lab.ExecAsync(holder, ["vgmesh", "sync", "ss1snap", "--to", $"ssh://root@{env["VGMESH_LAB_NODE3_MGMT"]}/dev/san/nosuchlv", .. ssh]);
            Assert.Equal(1, missing.ExitCode);
            Assert.Contains("/dev/san/nosuchlv", missing.Stderr, StringComparison.Ordinal);
            Assert.Equal(zeros, await ShaAsync(far, "sd2"));
        }
        finally
        {
            await f.Lab.ExecAsync(far, ["rm", "-f", snapback]);
            await f.CliAsync("node1", "lv", "remove", "ss1snap");
            foreach (var lv in new[] { "ss1", "sd2" })
            {
                await f.CliAsync("node1", "lv", "deactivate", lv);
                await f.CliAsync("node1", "lv", "remove", lv);
            }
        }
    }

    [Fact]
    public async Task SyncToAClusterLv_IsWrittenWhereItIsActive_PulledFromTheSnapshotsHolder()
    {
        const string holder = "node2", far = "node3";
        var env = await f.Lab.EnvAsync();
        await PrepareAsync(("sc1", holder), ("sc2", far), 16);
        await f.OkAsync("node1", "lv", "snapshot", "sc1", "--name", "sc1snap", "--size", "8M");
        await f.Lab.ExecOkAsync(holder, ["sh", "-c", "dd if=/dev/urandom of=/dev/san/sc1 bs=4096 seek=3 count=500 conv=notrunc oflag=direct 2>/dev/null; dd if=/dev/urandom of=/dev/san/sc1 bs=1 seek=12000001 count=777 conv=notrunc 2>/dev/null; sync"]);
        var zeros = await ShaAsync(far, "sc2");
        var snapback = $"{env["VGMESH_LAB_NODE3_DIR"]}/sc2.snapback";
        try
        {
            // Asked on node1, which holds neither: its agent relays to node3's, which pulls from node2's.
            var sync = await f.CliAsync("node1", "sync", "sc1snap", "--to", "sc2", "--snapback", snapback);
            Assert.True(sync.ExitCode == 0, $"vgmesh sync --to sc2 exited {sync.ExitCode}: {sync.Stderr}");
            var done = JsonSerializer.Deserialize(sync.Stdout, ApiJsonContext.Default.SyncResultView)!;
            Assert.Equal((far, "san/sc2", snapback), (done.Host, done.Lv, done.Snapback));
            Assert.True(done.Records > 0);
            Assert.Equal(await ShaAsync(holder, "sc1"), await ShaAsync(far, "sc2"));
            await f.Lab.ExecOkAsync(far, ["vgmesh", "sync", "--apply", snapback, "/dev/san/sc2"]);
            Assert.Equal(zeros, await ShaAsync(far, "sc2"));

            // Refused, nothing written: the snapshot's own origin, and a destination in use where it is active.
            var origin = await f.CliAsync("node1", "sync", "sc1snap", "--to", "sc1");
            Assert.Equal(1, origin.ExitCode);
            Assert.Contains("bad-destination", origin.Stderr, StringComparison.Ordinal);
            await f.Lab.ExecOkAsync(far, ["sh", "-c", "sleep 61 </dev/san/sc2 >/dev/null 2>&1 &"]);
            await AgentLabFixture.EventuallyAsync(async () => (await f.Lab.ExecOkAsync(far, ["dmsetup", "info", "-c", "--noheadings", "-o", "open", "san-sc2"])).Trim(), o => o != "0",
                TimeSpan.FromSeconds(10), "sc2 open on node3");
            var busy = await f.CliAsync("node1", "sync", "sc1snap", "--to", "sc2");
            Assert.Equal(1, busy.ExitCode);
            Assert.Contains("in-use", busy.Stderr, StringComparison.Ordinal);
            Assert.Equal(zeros, await ShaAsync(far, "sc2"));
        }
        finally
        {
            await f.Lab.ExecAsync(far, ["sh", "-c", "pkill -f 'sleep 61' ; true"]);
            await f.Lab.ExecAsync(far, ["rm", "-f", snapback]);
            await f.CliAsync("node1", "lv", "remove", "sc1snap");
            foreach (var lv in new[] { "sc1", "sc2" })
            {
                await f.CliAsync("node1", "lv", "deactivate", lv);
                await f.CliAsync("node1", "lv", "remove", lv);
            }
        }
    }
}
