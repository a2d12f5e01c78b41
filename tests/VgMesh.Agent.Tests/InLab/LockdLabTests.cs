using System.Diagnostics;
using System.Text.RegularExpressions;

namespace VgMesh.Agent.Tests.InLab;

/// <summary>
/// Three hosts with agents, wdmd, sanlock (io_timeout 2 s) and lvmlockd, and an lvmlockd VG
/// (<c>ops/lab up --lockd</c>). A side lab: it boots once the iSCSI lab is down, or before it, and runs beside the main lab.
/// </summary>
public sealed class LockdAgentLabFixture() : AgentLabFixture("agentlkd", heavy: false, "--lockd", "--io-timeout", "2", "--disk-size", "1G")
{
    /// <summary>The LV's uuid as lvmlockd and sanlock name its lock.</summary>
    public async Task<string> UuidAsync(string lv) => (await Lab.ExecOkAsync("node1", ["lvm", "lvs", "--noheadings", "-o", "lv_uuid", $"san/{lv}"])).Trim();

    /// <summary>The mode lvmlockd on <paramref name="host"/> holds the LV's lock in (ex, sh, un), or null when it has no record of it.</summary>
    public async Task<string?> LockModeAsync(string host, string uuid)
    {
        var m = Regex.Match(await Lab.ExecOkAsync(host, ["lvmlockctl", "--info"]), $"(?m)^LK LV (\\w+) {Regex.Escape(uuid)}$");
        return m.Success ? m.Groups[1].Value : null;
    }

    /// <summary>Whether sanlock on <paramref name="host"/> holds the LV's lease.</summary>
    public async Task<bool> HoldsLeaseAsync(string host, string uuid) =>
        (await Lab.ExecOkAsync(host, ["sanlock", "client", "status"])).Contains($":{uuid}:", StringComparison.Ordinal);
}

/// <summary>
/// lvmlockd mode (issue #16): the cluster assigns each host its sanlock host id and the agents
/// start the lockspace; coordinated operations run as in the default mode with LVM's own locks
/// enforcing the same exclusivity; a partitioned holder gives up its LV's sanlock lease when it
/// fences, so the LV moves seconds later (plain lvmlockd: never).
/// </summary>
[Collection("agent-lockd-lab")]
public class LockdLabTests(LockdAgentLabFixture f) : IClassFixture<LockdAgentLabFixture>
{
    private static readonly string[] Hosts = ["node1", "node2", "node3"];

    private static Task PartitionAsync(string host, bool cut) =>
        global::VgMesh.Lab.Lab.RunAsync([global::VgMesh.Lab.Lab.Script, "--name", "agentlkd", cut ? "partition" : "heal", host]);

    [Fact]
    public async Task EveryHost_GetsAUniqueHostIdFromTheCluster_StartsTheLockspace_AndShowsIt()
    {
        await f.AllLiveAsync();
        var ids = new Dictionary<string, int>();
        foreach (var h in Hosts)
        {
            var seen = await AgentLabFixture.EventuallyAsync(() => f.HostAsync(h, from: "node3"), v => v?.Lockd is { State: "started", HostId: not null }, TimeSpan.FromSeconds(90), $"{h}'s lockspace started");
            Assert.Equal("sanlock", seen!.Lockd!.LockType);
            Assert.Equal("lvm_san", seen.Lockd.Lockspace);
            ids[h] = seen.Lockd.HostId!.Value;
            // The id LVM reads, and the one sanlock runs the lockspace under.
            Assert.Equal(ids[h], VgMesh.Lvm.LvmLocalConf.HostId(await f.Lab.ExecOkAsync(h, ["cat", "/etc/lvm/lvmlocal.conf"])));
            Assert.Contains($"s lvm_san:{ids[h]}:", await f.Lab.ExecOkAsync(h, ["sanlock", "client", "status"]), StringComparison.Ordinal);
        }

        Assert.Equal(3, ids.Values.Distinct().Count());
        Assert.Equal(1, ids["node1"]); // the id the lab gave node1 for vgcreate --shared, kept by the cluster
        var metrics = await f.MetricsAsync("node2");
        // A gauge without attributes is written with empty braces by this exporter.
        Assert.Matches("(?m)^vgmesh_lockd_lockspace_started(\\{\\})? 1$", metrics);
        Assert.Matches($"(?m)^vgmesh_lockd_host_id(\\{{\\}})? {ids["node2"]}$", metrics);
        Assert.Matches("(?m)^vgmesh_lockd_lv_locks\\{mode=\"ex\"\\} \\d+$", metrics);
        // sanlock renews every two io timeouts (4 s here, 20 s by default).
        var age = double.Parse(System.Text.RegularExpressions.Regex.Match(metrics, "(?m)^vgmesh_lockd_renewal_age_seconds(?:\\{\\})? ([0-9.]+)$").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(age, 0, 10);
        var shownHost = await f.Lab.ExecOkAsync("node1", ["vgmesh", "host", "show", "node2"]);
        Assert.Contains("lvmlockd (sanlock): host_id", shownHost, StringComparison.Ordinal);
        Assert.Contains("sanlock lease renewed", shownHost, StringComparison.Ordinal);
        // An agent restarted keeps its id (recorded in the coordinator's journal).
        foreach (var verb in new[] { "stop", "start" })
        {
            var r = await global::VgMesh.Lab.Lab.RunAsync([global::VgMesh.Lab.Lab.Script, "--name", "agentlkd", "agent", verb, "node3"]);
            Assert.True(r.Succeeded, r.Stderr);
        }

        await AgentLabFixture.EventuallyAsync(() => f.AgentLogAsync("node3"), log => log.Count(l => l.Contains($"sanlock host id {ids["node3"]} from the cluster", StringComparison.Ordinal)) == 2, TimeSpan.FromSeconds(90), "node3's id again after its restart");
    }

    [Fact]
    public async Task Operations_RunWhereAskedUnderLvmsLock_OrThroughTheQueueWhereTheLockIsAnotherHosts_AndLvmlockdRefusesWhatTheClaimsRefuse()
    {
        await f.AllLiveAsync();
        var coordinator = (await f.StatusAsync()).Leader;
        var other = Hosts.First(h => h != coordinator);
        foreach (var h in Hosts)
        {
            await AgentLabFixture.EventuallyAsync(() => f.HostAsync(h), v => v?.Lockd?.State == "started", TimeSpan.FromSeconds(90), $"{h}'s lockspace started");
        }

        // Asked on a host that is not the coordinator's: run there under LVM's lock, recorded by
        // the coordinator, applied by every host before the answer.
        var created = await f.OkAsync(other, "lv", "create", "lk1", "--size", "16M");
        Assert.Equal(other, created.CompletedBy);
        Assert.Equal("applied", created.Status);
        Assert.Equal(3, created.AppliedBy.Count);
        var tagged = await f.OkAsync(other, "lv", "tag", "lk1", "--add", "tier_gold");
        Assert.Equal(other, tagged.CompletedBy);
        Assert.Contains("tier_gold", await f.Lab.ExecOkAsync(coordinator!, ["lvm", "lvs", "--noheadings", "-o", "lv_tags", "san/lk1"]), StringComparison.Ordinal);
        var scratch = await f.OkAsync(other, "lv", "create", "lk-scratch", "--size", "8M");
        var removed = await f.OkAsync(other, "lv", "remove", "lk-scratch");
        Assert.Equal(other, removed.CompletedBy);
        Assert.True(removed.Revision > scratch.Revision);

        await f.OkAsync("node1", "lv", "activate", "lk1", "--exclusive", "--host", "node2");
        var uuid = await f.UuidAsync("lk1");
        Assert.Equal("ex", await f.LockModeAsync("node2", uuid));

        // By hand, around vgmesh: LVM's lock refuses on the hosts that do not hold it.
        var activate = await f.Lab.ExecAsync("node3", ["lvm", "lvchange", "-aey", "san/lk1"]);
        Assert.NotEqual(0, activate.ExitCode);
        Assert.Contains("LV locked by other host", activate.Stderr, StringComparison.Ordinal);
        var extend = await f.Lab.ExecAsync("node1", ["lvm", "lvextend", "-L", "+4m", "san/lk1"]);
        Assert.NotEqual(0, extend.ExitCode);
        Assert.Contains("LV locked by other host", extend.Stderr, StringComparison.Ordinal);
        Assert.Equal(16L << 20 >> 9, await f.TableSectorsAsync("node2", "san-lk1"));
        // vgmesh reports what lvmlockd refused to commands it did not run (from lvmlockd's log).
        foreach (var (h, command) in new[] { ("node3", "lvchange"), ("node1", "lvextend") })
        {
            var seen = await AgentLabFixture.EventuallyAsync(() => f.HostAsync(h), v => v?.Lockd?.Refused?.Any(r => r.Lv == "lk1" && r.Command.StartsWith(command + "[", StringComparison.Ordinal)) == true, TimeSpan.FromSeconds(30), $"{h} reports the hand-run {command} lvmlockd refused");
            var refusal = seen!.Lockd!.Refused!.Last(r => r.Lv == "lk1");
            Assert.Equal(("ex", "held by another host", "hand"), (refusal.Mode, refusal.Reason, refusal.By));
            Assert.Matches("""(?m)^vgmesh_lockd_refusals_total\{[^}]*by="hand",lock="lv"[^}]*\} [1-9]""", await f.MetricsAsync(h));
        }

        Assert.Contains("refused by lvmlockd", await f.Lab.ExecOkAsync("node2", ["vgmesh", "host", "show", "node3"]), StringComparison.Ordinal);

        // Through vgmesh from a third host: LVM refuses it there (the lock is node2's), so the
        // coordinator runs it where the LV is active, its table grown by the answer.
        var delegated = await f.OkAsync("node3", "lv", "extend", "lk1", "--size", "+8M");
        Assert.Equal(coordinator, delegated.CompletedBy);
        Assert.Equal(24L << 20 >> 9, await f.TableSectorsAsync("node2", "san-lk1"));
        // Asked on the holder: run there, under its own lock.
        var here = await f.OkAsync("node2", "lv", "extend", "lk1", "--size", "+4M");
        Assert.Equal("node2", here.CompletedBy);
        Assert.Equal(28L << 20 >> 9, await f.TableSectorsAsync("node2", "san-lk1"));
        var remove = await f.CliAsync("node1", "lv", "remove", "lk1");
        Assert.NotEqual(0, remove.ExitCode);
        Assert.Contains("node2", remove.Stderr, StringComparison.Ordinal);

        // Handoff: lvmlockd's lock moves with the claim.
        await f.OkAsync("node1", "lv", "activate", "lk1", "--exclusive", "--host", "node3");
        Assert.Equal("ex", await f.LockModeAsync("node3", uuid));
        Assert.NotEqual("ex", await f.LockModeAsync("node2", uuid));
        Assert.Null(await f.TableSectorsAsync("node2", "san-lk1"));
        var shown = await AgentLabFixture.EventuallyAsync(() => f.HostAsync("node3"), v => v?.Lockd?.Exclusive.Contains("lk1") == true, TimeSpan.FromSeconds(60), "lk1's lock in node3's view");
        Assert.DoesNotContain("lk1", shown!.Lockd!.Shared);
        // A snapshot asked on the origin's holder: made there, in the kernel that does the copy-on-write.
        var snapshot = await f.OkAsync("node3", "lv", "snapshot", "lk1", "--name", "lk1s", "--size", "8M");
        Assert.Equal("node3", snapshot.CompletedBy);
        Assert.NotNull(await f.TableSectorsAsync("node3", "san-lk1s-cow"));
        await f.OkAsync("node3", "lv", "remove", "lk1s");

        // Active shared on two hosts, which plain lvextend refuses under lvmlockd: extended under
        // the shared lock on a holder (--lockopt shupdate), the other holder refreshed before the
        // answer. Asked on a host without it (through the queue, run on a holder), then on a holder.
        await f.OkAsync("node1", "lv", "create", "lk2", "--size", "16M");
        await f.OkAsync("node1", "lv", "activate", "lk2", "--shared", "--host", "node2");
        await f.OkAsync("node1", "lv", "activate", "lk2", "--shared", "--host", "node3");
        var uuid2 = await f.UuidAsync("lk2");
        Assert.Equal("sh", await f.LockModeAsync("node2", uuid2));
        Assert.Equal("sh", await f.LockModeAsync("node3", uuid2));
        await f.OkAsync("node1", "lv", "extend", "lk2", "--size", "+8M");
        Assert.Equal(24L << 20 >> 9, await f.TableSectorsAsync("node2", "san-lk2"));
        Assert.Equal(24L << 20 >> 9, await f.TableSectorsAsync("node3", "san-lk2"));
        var onHolder = await f.OkAsync("node3", "lv", "extend", "lk2", "--size", "+8M");
        Assert.Equal("node3", onHolder.CompletedBy);
        Assert.Equal(32L << 20 >> 9, await f.TableSectorsAsync("node2", "san-lk2"));
        Assert.Equal(32L << 20 >> 9, await f.TableSectorsAsync("node3", "san-lk2"));
        Assert.Equal("sh", await f.LockModeAsync("node2", uuid2));

        // Scenario 3 by hand: lvextend under node2's shared lock grows node2's table only
        // (lvmlockd refreshes no other host); node3's agent sees its stale table and refreshes it.
        await f.Lab.ExecOkAsync("node2", ["lvm", "lvextend", "-q", "--lockopt", "shupdate", "-L", "+4M", "san/lk2"]);
        Assert.Equal(36L << 20 >> 9, await f.TableSectorsAsync("node2", "san-lk2"));
        await AgentLabFixture.EventuallyAsync(() => f.TableSectorsAsync("node3", "san-lk2"), s => s == 36L << 20 >> 9, TimeSpan.FromSeconds(30), "node3 refreshes lk2 after a hand-run lvextend on node2");
    }

    [Fact]
    public async Task PartitionedHolder_FencesAndGivesUpItsLease_TheLvMovesSecondsLater_AndTheHolderLetsGoAfterTheHeal()
    {
        await f.AllLiveAsync();
        await AgentLabFixture.EventuallyAsync(() => f.HostAsync("node2"), v => v?.Lockd?.State == "started", TimeSpan.FromSeconds(90), "node2's lockspace started");
        await f.OkAsync("node1", "lv", "create", "lp", "--size", "16M");
        await f.OkAsync("node1", "lv", "activate", "lp", "--exclusive", "--host", "node2");
        var uuid = await f.UuidAsync("lp");
        Assert.True(await f.HoldsLeaseAsync("node2", uuid));
        // A VM's disk: held open on node2 through the cut, so no deactivation can free the lease.
        await f.Lab.ExecOkAsync("node2", ["sh", "-c", "setsid sh -c 'exec 3<>/dev/mapper/san-lp; exec sleep 900' </dev/null >/dev/null 2>&1 &"]);

        var clock = Stopwatch.StartNew();
        await PartitionAsync("node2", cut: true);
        double granted;
        try
        {
            await f.Lab.ExecOkAsync("node2", ["sh", "-c", "until dmsetup table san-lp | grep -q ' error'; do sleep 0.05; done"]);
            await AgentLabFixture.EventuallyAsync(() => f.HoldsLeaseAsync("node2", uuid), held => !held, TimeSpan.FromSeconds(30), "node2 gave up lp's sanlock lease");
            var write = await f.Lab.ExecAsync("node2", ["dd", "if=/dev/zero", "of=/dev/mapper/san-lp", "bs=4096", "count=1", "oflag=direct"]);
            Assert.Contains("0 bytes", write.Stderr, StringComparison.Ordinal);

            await f.OkAsync("node1", "lv", "activate", "lp", "--exclusive", "--host", "node3");
            granted = clock.Elapsed.TotalSeconds;
            Assert.Equal("ex", await f.LockModeAsync("node3", uuid));
            Assert.True(await f.HoldsLeaseAsync("node3", uuid));
            Assert.DoesNotContain("error", await f.Lab.ExecOkAsync("node3", ["dmsetup", "table", "san-lp"]), StringComparison.Ordinal);
        }
        finally
        {
            await PartitionAsync("node2", cut: false);
        }

        // Plain lvmlockd leaves the LV locked on node2 for as long as its disk renews: never.
        Assert.True(granted < 60, $"lp moved {granted:0.0} s after the cut");
        Console.WriteLine($"lockd partition takeover: cut -> active on node3 in {granted:0.0} s");

        // The VM stopped, node2 lets its fenced device go; the lease stays node3's.
        await f.Lab.ExecOkAsync("node2", ["sh", "-c", "kill $(pidof sleep) 2>/dev/null; true"]);
        await AgentLabFixture.EventuallyAsync(async () => (await f.Lab.ExecAsync("node2", ["dmsetup", "info", "san-lp"])).ExitCode, c => c != 0, TimeSpan.FromSeconds(90), "node2 releases the fenced device");
        Assert.Equal("ex", await f.LockModeAsync("node3", uuid));
        Assert.True(await f.HoldsLeaseAsync("node3", uuid));
    }

    [Fact]
    public async Task CrashedHolder_ItsLvMovesOnlyOnceSanlockFreesTheLease_AndTheHostRejoinsWithoutIt()
    {
        await f.AllLiveAsync();
        foreach (var h in Hosts)
        {
            await AgentLabFixture.EventuallyAsync(() => f.HostAsync(h), v => v?.Lockd?.State == "started", TimeSpan.FromSeconds(90), $"{h}'s lockspace started");
        }

        // The holder is not the coordinator's host: a crash of that one moves the coordinator too,
        // which CoordinatorsAgentKilled covers.
        var leader = (await f.StatusAsync()).Leader!;
        var others = Hosts.Where(h => h != leader).ToArray();
        var (holder, next) = (others[0], others[1]);
        await f.OkAsync(leader, "lv", "create", "lc", "--size", "8M");
        await f.OkAsync(leader, "lv", "activate", "lc", "--exclusive", "--host", holder);
        var uuid = await f.UuidAsync("lc");

        var clock = Stopwatch.StartNew();
        var crashed = await global::VgMesh.Lab.Lab.RunAsync([global::VgMesh.Lab.Lab.Script, "--name", "agentlkd", "crash", holder]);
        Assert.True(crashed.Succeeded, crashed.Stderr);
        try
        {
            // As an orchestrator would: ask every 2 s. vgmesh gives the claim up once the cluster has
            // downed the holder (seconds); LVM refuses the activation until sanlock has expired the
            // dead host's lease (8 io timeouts of 2 s, then the 60 s watchdog term: about 75 s).
            // The answer may come before the LV is live there (the claim moved, the activation
            // not applied yet): what counts is the table on the new holder.
            double granted;
            while (true)
            {
                var r = await f.CliAsync(leader, "lv", "activate", "lc", "--exclusive", "--host", next);
                if (await f.TableSectorsAsync(next, "san-lc") is not null)
                {
                    granted = clock.Elapsed.TotalSeconds;
                    break;
                }

                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(240), $"lc not active on {next} 240 s after {holder} crashed: {r.Stderr}");
                await Task.Delay(TimeSpan.FromSeconds(2));
            }

            Console.WriteLine($"lockd crash takeover: crash -> active on {next} in {granted:0.0} s");
            Assert.True(granted > 40, $"lc moved {granted:0.0} s after the crash, before sanlock could have expired {holder}'s lease");
            Assert.Equal("ex", await f.LockModeAsync(next, uuid));
            Assert.True(await f.HoldsLeaseAsync(next, uuid));
            Assert.DoesNotContain("error", await f.Lab.ExecOkAsync(next, ["dmsetup", "table", "san-lc"]), StringComparison.Ordinal);
        }
        finally
        {
            var booted = await global::VgMesh.Lab.Lab.RunAsync([global::VgMesh.Lab.Lab.Script, "--name", "agentlkd", "boot", holder]);
            Assert.True(booted.Succeeded, booted.Stderr);
        }

        // Rebooted under the same sanlock name, the host rejoins; lc stays where it went, with no
        // device on the host that crashed.
        await f.AllLiveAsync();
        await AgentLabFixture.EventuallyAsync(() => f.HostAsync(holder), v => v?.Lockd?.State == "started", TimeSpan.FromSeconds(120), $"{holder}'s lockspace started again");
        Assert.Null(await f.TableSectorsAsync(holder, "san-lc"));
        Assert.Equal("ex", await f.LockModeAsync(next, uuid));
    }

    [Fact]
    public async Task CoordinatorsAgentKilled_ChangesRunWhereAskedAreRecordedOnce_AndItsHostKeepsItsLock()
    {
        await f.AllLiveAsync();
        var leader = (await f.StatusAsync()).Leader!;
        var others = Hosts.Where(h => h != leader).ToArray();
        foreach (var h in Hosts)
        {
            await AgentLabFixture.EventuallyAsync(() => f.HostAsync(h), v => v?.Lockd?.State == "started", TimeSpan.FromSeconds(90), $"{h}'s lockspace started");
        }

        await f.OkAsync(others[0], "lv", "create", "lkk", "--size", "8M");
        await f.OkAsync(others[0], "lv", "activate", "lkk", "--exclusive", "--host", leader);
        var uuid = await f.UuidAsync("lkk");
        async Task<(string Name, int Code)> CreateAsync(string host, string name) => (name, (await f.CliAsync(host, "lv", "create", name, "--size", "8M")).ExitCode);

        var killed = await global::VgMesh.Lab.Lab.RunAsync([global::VgMesh.Lab.Lab.Script, "--name", "agentlkd", "agent", "kill", leader]);
        Assert.True(killed.Succeeded, killed.Stderr);
        // Run under LVM's lock at once; recorded once a coordinator is there again.
        var during = await Task.WhenAll(CreateAsync(others[0], "lkk-during-0"), CreateAsync(others[1], "lkk-during-1"));
        var newLeader = await AgentLabFixture.EventuallyAsync(async () => (await f.StatusAsync(others[0])).Leader, l => l is not null && l != leader, TimeSpan.FromSeconds(60), "a new coordinator");
        var after = await CreateAsync(others[1], "lkk-after-0");

        // 0: applied everywhere; 4: done, but the dead agent's host had not applied it when the wait ended.
        Assert.All(during.Append(after), r => Assert.True(r.Code is 0 or 4, $"{r.Name} exited {r.Code}"));
        // The killed agent's lvmlockd keeps the LV's lock, and no other host can take it.
        Assert.Equal("ex", await f.LockModeAsync(leader, uuid));
        var grab = await f.Lab.ExecAsync(newLeader!, ["lvm", "lvchange", "-aey", "san/lkk"]);
        Assert.Contains("LV locked by other host", grab.Stderr, StringComparison.Ordinal);
        foreach (var (name, _) in during.Append(after))
        {
            // One lvcreate for each, across every host's journal.
            var runs = await f.JournaledAsync("lvcreate", $"san/{name}");
            Assert.True(runs == 1, $"{name}: lvcreate ran {runs} times");
        }

        var restarted = await global::VgMesh.Lab.Lab.RunAsync([global::VgMesh.Lab.Lab.Script, "--name", "agentlkd", "agent", "start", leader]);
        Assert.True(restarted.Succeeded, restarted.Stderr);
        await AgentLabFixture.EventuallyAsync(async () => (await f.HostAsync(leader, leader))?.LagEvents ?? -1, lag => lag == 0, TimeSpan.FromSeconds(60), "the restarted agent catches up");
        Assert.Equal("ex", await f.LockModeAsync(leader, uuid));
        Assert.NotNull(await f.TableSectorsAsync(leader, "san-lkk"));
    }
}
