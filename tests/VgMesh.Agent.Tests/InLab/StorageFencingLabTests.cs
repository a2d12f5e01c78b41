using System.Diagnostics;
using VgMesh.Lvm.Scsi;

namespace VgMesh.Agent.Tests.InLab;

/// <summary>Three hosts with agents whose LUN is an iSCSI target used through multipath (<c>ops/lab up --iscsi</c>), with storage fencing on.</summary>
public sealed class IscsiAgentLabFixture() : AgentLabFixture("agentisc", "--iscsi", "--disk-size", "1G")
{
    public static ReservationKey KeyOf(string host) => ReservationKey.For("agentisc", host);

    public async Task<IReadOnlyList<ReservationKey>> KeysAsync(string host = "node1") =>
        PersistentReservations.ParseKeys(await Lab.ExecOkAsync(host, ["mpathpersist", "--in", "--read-keys", "/dev/mapper/luna"]));
}

/// <summary>
/// Fencing by the storage itself (SCSI-3 persistent reservations) on a real iSCSI target with
/// multipath: every agent registers, a host that lost its registration cannot write and gives up
/// what it held before it registers again, and the LV of a paused holder moves only after the
/// coordinator preempted the holder, whose writes then fail at the target when it resumes.
/// </summary>
public class StorageFencingLabTests(IscsiAgentLabFixture f) : IClassFixture<IscsiAgentLabFixture>
{
    [Fact]
    public async Task EveryAgentRegisters_AReservationIsHeld_AndAHostWhoseKeyIsRemoved_CannotWrite_FencesWhatItHeld_ThenRegistersAgain()
    {
        await f.AllLiveAsync();
        // Each host's key on both of its paths, and "write exclusive, registrants only".
        await AgentLabFixture.EventuallyAsync(() => f.KeysAsync(), keys => new[] { "node1", "node2", "node3" }.All(h => keys.Count(k => k == IscsiAgentLabFixture.KeyOf(h)) == 2), TimeSpan.FromSeconds(30), "every host registered on both paths");
        Assert.Contains("Write Exclusive, registrants only", await f.Lab.ExecOkAsync("node2", ["mpathpersist", "--in", "--read-reservation", "/dev/mapper/luna"]), StringComparison.Ordinal);
        var metrics = await f.MetricsAsync("node3");
        Assert.Contains("vgmesh_storage_registered 1", metrics, StringComparison.Ordinal);
        Assert.Matches("(?m)^vgmesh_storage_paths\\{[^}]*state=\"active\"[^}]*\\} 2$", metrics);
        Assert.Matches("(?m)^vgmesh_storage_paths\\{[^}]*state=\"failed\"[^}]*\\} 0$", metrics);

        await f.OkAsync("node1", "lv", "create", "rg", "--size", "16M");
        await f.OkAsync("node1", "lv", "activate", "rg", "--exclusive", "--host", "node3");
        string[] write = ["dd", "if=/dev/zero", "of=/dev/san/rg", "bs=4096", "count=1", "oflag=direct", "conv=notrunc"];
        await f.Lab.ExecOkAsync("node3", write);

        // node3's key removed behind its back (as a coordinator's preemption would): the target
        // refuses its next write at once.
        var node1 = IscsiAgentLabFixture.KeyOf("node1");
        await f.Lab.ExecOkAsync("node1", ["mpathpersist", "--out", "--preempt", $"--param-rk={node1}", $"--param-sark={IscsiAgentLabFixture.KeyOf("node3")}", "--prout-type=5", "/dev/mapper/luna"]);
        var refused = await f.Lab.ExecAsync("node3", write);
        Assert.NotEqual(0, refused.ExitCode);

        // Its agent notices, fences rg (an error table, recorded) and only then registers again.
        await AgentLabFixture.EventuallyAsync(() => f.KeysAsync(), keys => keys.Count(k => k == IscsiAgentLabFixture.KeyOf("node3")) == 2, TimeSpan.FromSeconds(30), "node3 registered again");
        Assert.Contains(" error", await f.Lab.ExecOkAsync("node3", ["dmsetup", "table", "san-rg"]), StringComparison.Ordinal);
        Assert.Contains("rg", await File.ReadAllTextAsync(Path.Combine((await f.Lab.EnvAsync())["VGMESH_LAB_NODE3_DIR"], "state", "fenced.json")), StringComparison.Ordinal);
        Assert.Contains("vgmesh_storage_registered 1", await f.MetricsAsync("node3"), StringComparison.Ordinal);

        // It still holds the claim: the operator's unfence gives the real table back, and it writes.
        await f.OkAsync("node3", "lv", "unfence", "rg");
        await f.Lab.ExecOkAsync("node3", write);
        await f.OkAsync("node1", "lv", "deactivate", "rg");
        await f.OkAsync("node1", "lv", "remove", "rg");
    }

    [Fact]
    public async Task PausedHolder_ItsLvMovesOnlyAfterThePreemption_OnResumeItsWritesFailAtTheTarget_AndTheNewHoldersDataIsIntact()
    {
        await f.AllLiveAsync();
        await AgentLabFixture.EventuallyAsync(() => f.KeysAsync(), keys => keys.Count(k => k == IscsiAgentLabFixture.KeyOf("node2")) == 2, TimeSpan.FromSeconds(30), "node2 registered");
        await f.OkAsync("node1", "lv", "create", "pz", "--size", "16M");
        await f.OkAsync("node1", "lv", "activate", "pz", "--exclusive", "--host", "node2");
        var d2 = (await f.Lab.EnvAsync())["VGMESH_LAB_NODE2_DIR"];
        var log = Path.Combine(d2, "tmp", "pz-writer.log");
        File.Delete(log);

        // A writer on node2 that runs through the pause: the first 64 KiB, every 50 ms, until a
        // write fails (then it logs dd's error and stops) or 10 minutes pass.
        await f.Lab.ExecOkAsync("node2", ["sh", "-c",
            $"setsid sh -c 'end=$(($(date +%s) + 600)); while [ $(date +%s) -lt $end ]; do " +
            $"dd if=/dev/zero of=/dev/san/pz bs=64k count=1 oflag=direct conv=notrunc 2>{log}.err || {{ echo \"failed $(date +%s%N) $(cat {log}.err)\" > {log}; exit 0; }}; " +
            "sleep 0.05; done' </dev/null >/dev/null 2>&1 &"]);
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.False(File.Exists(log), "the writer failed before the pause");

        await f.Lab.FaultAsync(global::VgMesh.Lab.LabFault.Pause, "node2");
        var clock = Stopwatch.StartNew();
        string data;
        try
        {
            // The handoff waits until node2's report stops counting: once the cluster has put it
            // out and the coordinator has preempted its key.
            await f.OkAsync("node1", "lv", "activate", "pz", "--exclusive", "--host", "node3");
            var movedAfter = clock.Elapsed;
            Assert.Contains(IscsiAgentLabFixture.KeyOf("node1"), await f.KeysAsync("node3"));
            Assert.DoesNotContain(IscsiAgentLabFixture.KeyOf("node2"), await f.KeysAsync("node3"));
            var events = (await f.CliAsync("node1", "events")).Stdout;
            Assert.Contains("host-fenced", events, StringComparison.Ordinal);

            // The new holder writes 1 MiB from the start of the LV: what node2's writer would overwrite.
            data = (await f.Lab.ExecOkAsync("node3", ["sh", "-c",
                "dd if=/dev/urandom of=$TMPDIR/pz.new bs=1M count=1 status=none && dd if=$TMPDIR/pz.new of=/dev/san/pz bs=1M oflag=direct conv=notrunc status=none && sha256sum < $TMPDIR/pz.new"])).Split(' ')[0];
            Assert.True(movedAfter < TimeSpan.FromMinutes(2), $"the handoff took {movedAfter}");
        }
        finally
        {
            await f.Lab.FaultAsync(global::VgMesh.Lab.LabFault.Resume, "node2");
        }

        // Resumed, node2's writer goes on writing through its real table: the target refuses it.
        await AgentLabFixture.EventuallyAsync(() => Task.FromResult(File.Exists(log) ? File.ReadAllText(log) : ""), t => t.StartsWith("failed", StringComparison.Ordinal), TimeSpan.FromSeconds(60), "node2's writer fails after the resume");
        var failure = await File.ReadAllTextAsync(log);
        Assert.True(failure.Contains("Invalid exchange", StringComparison.Ordinal) || failure.Contains("Input/output error", StringComparison.Ordinal), failure);
        Assert.Equal(data, (await f.Lab.ExecOkAsync("node3", ["sh", "-c", "dd if=/dev/san/pz bs=1M count=1 iflag=direct status=none | sha256sum"])).Split(' ')[0]);

        // node2 comes back into the cluster, gives up pz, and registers again.
        await f.AllLiveAsync();
        await AgentLabFixture.EventuallyAsync(() => f.KeysAsync(), keys => keys.Count(k => k == IscsiAgentLabFixture.KeyOf("node2")) == 2, TimeSpan.FromSeconds(60), "node2 registered again");
        await AgentLabFixture.EventuallyAsync(async () => (await f.Lab.ExecAsync("node2", ["dmsetup", "info", "san-pz"])).ExitCode, c => c != 0, TimeSpan.FromSeconds(60), "node2 releases pz");
        Assert.Equal(data, (await f.Lab.ExecOkAsync("node3", ["sh", "-c", "dd if=/dev/san/pz bs=1M count=1 iflag=direct status=none | sha256sum"])).Split(' ')[0]);
    }
}
