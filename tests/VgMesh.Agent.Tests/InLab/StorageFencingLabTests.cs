using System.Diagnostics;
using VgMesh.Lvm.Scsi;

namespace VgMesh.Agent.Tests.InLab;

/// <summary>Three hosts with agents whose LUN is an iSCSI target used through multipath (<c>ops/lab up --iscsi</c>), with storage fencing on.</summary>
public sealed class IscsiAgentLabFixture() : AgentLabFixture("agentisc", heavy: true, "--iscsi", "--disk-size", "1G")
{
    public static ReservationKey KeyOf(string host) => ReservationKey.For("agentisc", host);

    public async Task<IReadOnlyList<ReservationKey>> KeysAsync(string host = "node1") =>
        PersistentReservations.ParseKeys(await Lab.ExecOkAsync(host, ["mpathpersist", "--in", "--read-keys", "/dev/mapper/luna"]));
}

[CollectionDefinition("agent-iscsi-lab")]
public sealed class IscsiAgentLabGroup : ICollectionFixture<IscsiAgentLabFixture>;

/// <summary>
/// Fencing by the storage itself (SCSI-3 persistent reservations) on a real iSCSI target with
/// multipath: every agent registers, a host that lost its registration cannot write and gives up
/// what it held before it registers again, and the LV of a paused holder moves only after the
/// coordinator preempted the holder, whose writes then fail at the target when it resumes.
/// </summary>
[Collection("agent-iscsi-lab")]
public class StorageFencingLabTests(IscsiAgentLabFixture f)
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

        // The storage alerts read series these agents export.
        foreach (var (where, selector) in MetricsLabTests.RuleExpressions("vgmesh-storage.yml"))
        {
            var name = selector.Split('{')[0];
            var labels = System.Text.RegularExpressions.Regex.Matches(selector, "[a-z_]+=\"[^\"]*\"").Select(m => m.Value);
            Assert.True(metrics.Split('\n').Any(l => (l.StartsWith(name + "{", StringComparison.Ordinal) || l.StartsWith(name + " ", StringComparison.Ordinal)) && labels.All(x => l.Contains(x, StringComparison.Ordinal))),
                $"{where}: no series {selector} in node3's metrics");
        }

        // Every host's paths and registration in any host's view (its report, every reconcile pass).
        var seen = await AgentLabFixture.EventuallyAsync(() => f.HostAsync("node3", from: "node2"), h => h?.Storage is { Registration: "registered", Paths.Count: 2 }, TimeSpan.FromSeconds(30), "node3's storage in node2's view");
        Assert.Equal(IscsiAgentLabFixture.KeyOf("node3").ToString(), seen!.Storage!.Key);
        Assert.All(seen.Storage.Paths, p => Assert.Equal("active", p.State));
        Assert.Contains("Write Exclusive, registrants only", seen.Storage.ReservationType, StringComparison.Ordinal);

        // One path cut: the kernel fails it, and the host's view says so; back, it is active again.
        await f.Lab.PathAsync("node3", 1, up: false);
        try
        {
            await AgentLabFixture.EventuallyAsync(() => f.HostAsync("node3"), h => h?.Storage?.Paths.Count(p => p.State == "failed") == 1, TimeSpan.FromSeconds(60), "node3's cut path shown failed");
            Assert.Contains("registered, 1/2 paths", (await f.Lab.ExecOkAsync("node1", ["vgmesh", "host", "list"])), StringComparison.Ordinal);
        }
        finally
        {
            await f.Lab.PathAsync("node3", 1, up: true);
        }

        await AgentLabFixture.EventuallyAsync(() => f.HostAsync("node3"), h => h?.Storage?.Paths.Count(p => p.State == "active") == 2, TimeSpan.FromSeconds(60), "node3's path back");

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

    /// <summary>Cuts node2 off in one of three ways, or (<paramref name="cut"/> false) gives it back.</summary>
    private async Task FaultAsync(string how, bool cut)
    {
        string[] verb = how switch
        {
            "pause" => [cut ? "pause" : "resume", "node2"],
            "partition" => [cut ? "partition" : "heal", "node2"],
            "kill-agent" => ["agent", cut ? "kill" : "start", "node2"],
            _ => throw new ArgumentOutOfRangeException(nameof(how), how, "pause, partition or kill-agent"),
        };
        var r = await global::VgMesh.Lab.Lab.RunAsync([global::VgMesh.Lab.Lab.Script, "--name", f.Lab.Name, .. verb]);
        Assert.True(r.Succeeded, $"ops/lab {string.Join(' ', verb)}: {r.Stderr}");
    }

    /// <summary>
    /// The holder node2 stops counting in three ways: paused (it cannot fence itself: only the
    /// storage stops it), partitioned (it fences itself too, and whichever comes first fails its
    /// writer) and with its agent killed (nothing on the host fences: the target does).
    /// </summary>
    [Theory]
    [InlineData("pause")]
    [InlineData("partition")]
    [InlineData("kill-agent")]
    public async Task HolderCutOff_ItsLvMovesOnlyAfterThePreemption_ItsWritesFail_AndTheNewHoldersDataIsIntact(string how)
    {
        await f.AllLiveAsync();
        await AgentLabFixture.EventuallyAsync(() => f.KeysAsync(), keys => keys.Count(k => k == IscsiAgentLabFixture.KeyOf("node2")) == 2, TimeSpan.FromSeconds(60), "node2 registered");
        var lv = "cut" + how.Replace("-", "", StringComparison.Ordinal);
        await f.OkAsync("node1", "lv", "create", lv, "--size", "16M");
        await f.OkAsync("node1", "lv", "activate", lv, "--exclusive", "--host", "node2");
        var d2 = (await f.Lab.EnvAsync())["VGMESH_LAB_NODE2_DIR"];
        var log = Path.Combine(d2, "tmp", $"{lv}-writer.log");
        File.Delete(log);

        // A writer on node2 that runs through the cut: the first 64 KiB, every 50 ms, until a
        // write fails (then it logs dd's error and stops) or 10 minutes pass. It holds the device
        // open (fd 3) and writes through it, so its agent cannot take the device away under it
        // (a dd opening /dev/san/LV after that would make a file there): each write reaches the
        // table, and through it the target.
        await f.Lab.ExecOkAsync("node2", ["sh", "-c",
            $"setsid sh -c '[ -b /dev/san/{lv} ] || {{ echo \"failed: /dev/san/{lv} is not a block device\" > {log}; exit 0; }}; exec 3<>/dev/san/{lv}; end=$(($(date +%s) + 600)); while [ $(date +%s) -lt $end ]; do " +
            $"dd if=/dev/zero of=/proc/self/fd/3 bs=64k count=1 oflag=direct conv=notrunc 2>{log}.err || {{ echo \"failed $(date +%s%N) $(cat {log}.err)\" > {log}; exit 0; }}; " +
            "sleep 0.05; done' </dev/null >/dev/null 2>&1 &"]);
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.False(File.Exists(log), "the writer failed before the pause");

        await FaultAsync(how, cut: true);
        var clock = Stopwatch.StartNew();
        string data;
        try
        {
            // As an operator would: once the cluster no longer sees node2 (an LV open on a host
            // that still answers is refused as in use). The handoff then waits until node2's
            // report stops counting: once the cluster has put it out and the coordinator has
            // preempted its key.
            var coordinator = (await f.StatusAsync()).Leader ?? "node1";
            await AgentLabFixture.EventuallyAsync(() => f.HostAsync("node2", from: coordinator == "node2" ? "node1" : coordinator), h => h is not { Alive: true, MemberStatus: "up" }, TimeSpan.FromSeconds(60), "the coordinator's host sees node2 gone");
            await f.OkAsync("node1", "lv", "activate", lv, "--exclusive", "--host", "node3");
            var movedAfter = clock.Elapsed;
            Assert.Contains(IscsiAgentLabFixture.KeyOf("node1"), await f.KeysAsync("node3"));
            Assert.DoesNotContain(IscsiAgentLabFixture.KeyOf("node2"), await f.KeysAsync("node3"));
            var events = (await f.CliAsync("node1", "events")).Stdout;
            Assert.Contains("host-fenced", events, StringComparison.Ordinal);

            // The new holder writes 1 MiB from the start of the LV: what node2's writer would overwrite.
            data = (await f.Lab.ExecOkAsync("node3", ["sh", "-c",
                $"dd if=/dev/urandom of=$TMPDIR/{lv}.new bs=1M count=1 status=none && dd if=$TMPDIR/{lv}.new of=/dev/san/{lv} bs=1M oflag=direct conv=notrunc status=none && sha256sum < $TMPDIR/{lv}.new"])).Split(' ')[0];
            Assert.True(movedAfter < TimeSpan.FromMinutes(2), $"the handoff took {movedAfter}");
        }
        finally
        {
            await FaultAsync(how, cut: false);
        }

        // node2's writer went on writing (through its real table, paused or with no agent): the
        // target refuses it, or node2's own fence did first (partitioned, its agent ran).
        await AgentLabFixture.EventuallyAsync(() => Task.FromResult(File.Exists(log) ? File.ReadAllText(log) : ""), t => t.StartsWith("failed", StringComparison.Ordinal), TimeSpan.FromSeconds(60), "node2's writer fails");
        var failure = await File.ReadAllTextAsync(log);
        Assert.True(failure.Contains("Invalid exchange", StringComparison.Ordinal) || failure.Contains("Input/output error", StringComparison.Ordinal), failure);
        Assert.Equal(data, (await f.Lab.ExecOkAsync("node3", ["sh", "-c", $"dd if=/dev/san/{lv} bs=1M count=1 iflag=direct status=none | sha256sum"])).Split(' ')[0]);

        // node2 comes back into the cluster, gives up the LV, and registers again.
        await f.AllLiveAsync();
        await AgentLabFixture.EventuallyAsync(() => f.KeysAsync(), keys => keys.Count(k => k == IscsiAgentLabFixture.KeyOf("node2")) == 2, TimeSpan.FromSeconds(60), "node2 registered again");
        await AgentLabFixture.EventuallyAsync(async () => (await f.Lab.ExecAsync("node2", ["dmsetup", "info", $"san-{lv}"])).ExitCode, c => c != 0, TimeSpan.FromSeconds(60), $"node2 releases {lv}");
        Assert.Equal(data, (await f.Lab.ExecOkAsync("node3", ["sh", "-c", $"dd if=/dev/san/{lv} bs=1M count=1 iflag=direct status=none | sha256sum"])).Split(' ')[0]);
    }
}
