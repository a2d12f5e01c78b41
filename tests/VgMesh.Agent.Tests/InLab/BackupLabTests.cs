namespace VgMesh.Agent.Tests.InLab;

/// <summary>
/// Backups through a temporary snapshot, on real LVs: full and incremental round trips by
/// checksum, written on another host than the LV's; and a backup killed halfway leaves no
/// snapshot behind.
/// </summary>
// On the iSCSI lab: its collection runs beside the main one, which alone took 28 of the 42
// minutes of ./ops/test on 2026-12-07; what these need (LVs, snapshots, hosts' directories) is
// the same on either LUN.
[Collection("agent-iscsi-lab")]
public class BackupLabTests(IscsiAgentLabFixture f)
{
    private const string Holder = "node2", Here = "node3";

    private Task<string> ShaAsync(string host, string path) =>
        f.Lab.ExecOkAsync(host, ["sh", "-c", $"dd if={path} bs=1M 2>/dev/null | sha256sum"]);

    private async Task<string[]> BackupSnapshotsAsync() =>
        (await f.Lab.ExecOkAsync("node1", ["lvm", "lvs", "--noheadings", "-o", "lv_name", "san"]))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(n => n.Contains("-vgbk-", StringComparison.Ordinal)).ToArray();

    private Task WriteAsync(int seed) => f.Lab.ExecOkAsync(Holder, ["sh", "-c",
        string.Join('\n', Enumerable.Range(0, 12).Select(i => $"dd if=/dev/urandom of=/dev/san/bo bs=4096 seek={(seed * 97 + i * 131) % 8192} count={1 + i % 3} conv=notrunc oflag=direct 2>/dev/null"))]);

    [Fact]
    public async Task FullAndIncremental_RoundTrip_AndAKilledBackupLeavesNoSnapshot()
    {
        // The host's own directory: the rest of a lab host's file system is this machine's, read-only.
        var d = (await f.Lab.EnvAsync())["VGMESH_LAB_NODE3_DIR"] + "/tmp";
        await f.OkAsync("node1", "lv", "create", "bo", "--size", "32M");
        await f.OkAsync("node1", "lv", "create", "bd", "--size", "32M");
        await f.OkAsync("node1", "lv", "activate", "bo", "--exclusive", "--host", Holder);
        await f.OkAsync("node1", "lv", "activate", "bd", "--exclusive", "--host", Here);
        // Half random, half zeros (holes in the backup file).
        await f.Lab.ExecOkAsync(Holder, ["sh", "-c", "dd if=/dev/urandom of=/dev/san/bo bs=1M count=16 oflag=direct 2>/dev/null; dd if=/dev/zero of=/dev/san/bo bs=1M seek=16 count=16 oflag=direct 2>/dev/null"]);
        await f.Lab.ExecOkAsync(Here, ["rm", "-rf", $"{d}/bk.img", $"{d}/chain", $"{d}/k.img", $"{d}/k.img.partial"]);

        // Full: written here, the LV read on its holder; the temporary snapshot is gone after.
        var full = await f.Lab.ExecAsync(Here, ["vgmesh", "lv", "backup", "bo", "--to", $"{d}/bk.img"]);
        Assert.True(full.ExitCode == 0, $"backup exited {full.ExitCode}: {full.Stderr}");
        Assert.Equal(await ShaAsync(Holder, "/dev/san/bo"), await ShaAsync(Here, $"{d}/bk.img"));
        Assert.Empty(await BackupSnapshotsAsync());
        var restore = await f.Lab.ExecAsync(Here, ["vgmesh", "lv", "restore", $"{d}/bk.img", "--to", "bd"]);
        Assert.True(restore.ExitCode == 0, $"restore exited {restore.ExitCode}: {restore.Stderr}");
        Assert.Equal(await ShaAsync(Holder, "/dev/san/bo"), await ShaAsync(Here, "/dev/san/bd"));

        // Incremental: a full image, then two deltas of what changed in between; the base snapshot alternates.
        await f.Lab.ExecOkAsync(Here, ["vgmesh", "lv", "backup", "bo", "--to", $"{d}/chain", "--incremental"]);
        Assert.Equal(["bo-vgbk-a"], await BackupSnapshotsAsync());
        await WriteAsync(1);
        await f.Lab.ExecOkAsync(Here, ["vgmesh", "lv", "backup", "bo", "--to", $"{d}/chain", "--incremental"]);
        Assert.Equal(["bo-vgbk-b"], await BackupSnapshotsAsync());
        await WriteAsync(2);
        await f.Lab.ExecOkAsync(Here, ["vgmesh", "lv", "backup", "bo", "--to", $"{d}/chain", "--incremental"]);
        Assert.Equal(["bo-vgbk-a"], await BackupSnapshotsAsync());
        var files = (await f.Lab.ExecOkAsync(Here, ["ls", $"{d}/chain"])).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["0001.delta", "0002.delta", "full.img"], files.Order(StringComparer.Ordinal));
        // Each delta holds only the changed chunks: far smaller than the LV.
        var deltaBytes = long.Parse((await f.Lab.ExecOkAsync(Here, ["sh", "-c", $"wc -c < {d}/chain/0002.delta"])).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(deltaBytes, 4096, 2 << 20);
        await f.Lab.ExecOkAsync(Here, ["dd", "if=/dev/zero", "of=/dev/san/bd", "bs=1M", "count=32", "oflag=direct"]);
        await f.Lab.ExecOkAsync(Here, ["vgmesh", "lv", "restore", $"{d}/chain", "--to", "bd"]);
        Assert.Equal(await ShaAsync(Holder, "/dev/san/bo"), await ShaAsync(Here, "/dev/san/bd"));

        // Killed halfway: the client stops reading (SIGSTOP) once the agent streams, then dies (SIGKILL).
        var killed = await f.Lab.ExecOkAsync(Here, ["sh", "-c",
            $"vgmesh lv backup bo --to {d}/k.img >/dev/null 2>&1 & p=$!; sleep 1.5; kill -STOP $p; " +
            "i=0; until lvm lvs san/bo-vgbk-tmp >/dev/null 2>&1 || [ $i -ge 200 ]; do sleep 0.1; i=$((i+1)); done; " +
            "lvm lvs san/bo-vgbk-tmp >/dev/null 2>&1 && echo snapshot-made; sleep 1; kill -9 $p; true"]);
        Assert.Contains("snapshot-made", killed, StringComparison.Ordinal);
        await AgentLabFixture.EventuallyAsync(BackupSnapshotsAsync, s => s.SequenceEqual(["bo-vgbk-a"]), TimeSpan.FromSeconds(60), "the killed backup's snapshot is removed, the chain's base stays");
        Assert.Equal("no", (await f.Lab.ExecOkAsync(Here, ["sh", "-c", $"[ -e {d}/k.img ] && echo yes || echo no"])).Trim());

        // Bad input changes nothing: an existing file, a snapshot as the source, a relative path.
        Assert.Equal(1, (await f.Lab.ExecAsync(Here, ["vgmesh", "lv", "backup", "bo", "--to", $"{d}/bk.img"])).ExitCode);
        Assert.Equal(1, (await f.Lab.ExecAsync(Here, ["vgmesh", "lv", "backup", "bo-vgbk-a", "--to", $"{d}/x.img"])).ExitCode);
        Assert.Equal(1, (await f.Lab.ExecAsync(Here, ["vgmesh", "lv", "backup", "bo", "--to", "relative.img"])).ExitCode);
        Assert.Equal(["bo-vgbk-a"], await BackupSnapshotsAsync());

        // An origin with snapshots is not removed (lvremove --yes would take them along).
        var guarded = await f.CliAsync("node1", "lv", "remove", "bo");
        Assert.Equal(1, guarded.ExitCode);
        Assert.Contains("has-snapshots", guarded.Stderr, StringComparison.Ordinal);
        await f.OkAsync("node1", "lv", "remove", "bo-vgbk-a");
        await f.OkAsync("node1", "lv", "deactivate", "bo");
        await f.OkAsync("node1", "lv", "deactivate", "bd");
        await f.OkAsync("node1", "lv", "remove", "bo");
        await f.OkAsync("node1", "lv", "remove", "bd");
    }
}
