using System.Diagnostics;

namespace VgMesh.Agent.Tests.InLab;

[Collection("agent-lab")]
public class FencingLabTests(AgentLabFixture f)
{
    private const int FenceAfterSeconds = 4, GraceSeconds = 3; // the agent's defaults (the lab's vgmeshd.json sets neither)

    private async Task<bool> WritableOnAsync(string host, string dm)
    {
        var r = await f.Lab.ExecAsync(host, ["dmsetup", "table", dm]);
        return r.ExitCode == 0 && !r.Stdout.Contains("error", StringComparison.Ordinal);
    }

    private static long UnixNs(global::VgMesh.Lvm.Commands.ProcessResult r) => long.Parse(r.Stdout.Trim(), System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Unfences on the host once its agent answers again (it may be restarting after a downing).</summary>
    private Task UnfenceAsync(string host, string lv) =>
        AgentLabFixture.EventuallyAsync(() => f.CliAsync(host, "lv", "unfence", lv), r => r.ExitCode == 0, TimeSpan.FromSeconds(90), $"{lv} unfenced on {host}");

    private static Task PartitionAsync(string host, bool cut) =>
        global::VgMesh.Lab.Lab.RunAsync([global::VgMesh.Lab.Lab.Script, "--name", "agenttest", cut ? "partition" : "heal", host]);

    [Fact]
    public async Task Scenario5_PartitionedHolderFencesItself_GrantedElsewhereOnlyAfterItsDeadlineAndGrace_NeverOnTwoHosts()
    {
        await f.AllLiveAsync();
        await f.OkAsync("node1", "lv", "create", "p5", "--size", "16M");
        await f.OkAsync("node1", "lv", "activate", "p5", "--exclusive", "--host", "node2");
        var clock = Stopwatch.StartNew();
        var samples = new List<(double At, string[] Writable)>();
        using var stop = new CancellationTokenSource();
        var poller = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                // A sample is stamped when it starts, and reads node3 (the grant's target) before
                // node2 (the fenced holder): whatever it finds writable was writable at or after
                // the stamp, and a clean move between two reads is never counted as an overlap.
                var at = clock.Elapsed.TotalSeconds;
                var on = new List<string>();
                foreach (var h in new[] { "node3", "node2", "node1" })
                {
                    if (await WritableOnAsync(h, "san-p5"))
                    {
                        on.Add(h);
                    }
                }

                lock (samples)
                {
                    samples.Add((at, [.. on]));
                }
            }
        });

        // The moments of the fence and of the grant are taken inside node2 and node3 (a 50 ms
        // watch of their own tables, on the clock the lab hosts share with this machine), not
        // when a poll from here first sees them: on a loaded machine each poll costs a second
        // and more.
        using var watchCancel = new CancellationTokenSource(TimeSpan.FromSeconds(12 * FenceAfterSeconds));
        var fenceWatch = f.Lab.ExecAsync("node2", ["sh", "-c", "until dmsetup table san-p5 | grep -q ' error'; do sleep 0.05; done; date +%s%N"], watchCancel.Token);
        var grantWatch = f.Lab.ExecAsync("node3", ["sh", "-c", "until t=$(dmsetup table san-p5 2>/dev/null) && [ -n \"$t\" ] && ! echo \"$t\" | grep -q ' error'; do sleep 0.05; done; date +%s%N"], watchCancel.Token);
        await Task.Delay(TimeSpan.FromSeconds(1));
        await AgentLabFixture.EventuallyAsync(() => { lock (samples) { return Task.FromResult(samples.Count); } }, n => n >= 1, TimeSpan.FromSeconds(30), "a first sample before the cut");
        double cutAt = clock.Elapsed.TotalSeconds, grantedAt;
        var cutUnixNs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000;
        long fencedUnixNs, grantedUnixNs;
        await PartitionAsync("node2", cut: true);
        try
        {
            fencedUnixNs = UnixNs(await fenceWatch);
            var write = await f.Lab.ExecAsync("node2", ["dd", "if=/dev/zero", "of=/dev/mapper/san-p5", "bs=4096", "count=1", "oflag=direct"]);
            Assert.Contains("0 bytes", write.Stderr, StringComparison.Ordinal);

            await f.OkAsync("node1", "lv", "activate", "p5", "--exclusive", "--host", "node3");
            grantedAt = clock.Elapsed.TotalSeconds;
            Assert.True(await WritableOnAsync("node3", "san-p5"));
            grantedUnixNs = UnixNs(await grantWatch);
        }
        finally
        {
            await PartitionAsync("node2", cut: false);
        }

        // node2 comes back, sees the claim is node3's, and releases its fenced device. It was
        // downed, so this takes a new agent process on a user-mode host (exit 75, restarted by the
        // lab's boot script) and a rejoin: 10-30 s in a quiet lab, past 30 s while a side lab boots
        // beside it (the fresh-clone run of 2d47e66). The bound is liveness only; the safety
        // checks are the samples below.
        await AgentLabFixture.EventuallyAsync(async () => (await f.Lab.ExecAsync("node2", ["dmsetup", "info", "san-p5"])).ExitCode, c => c != 0, TimeSpan.FromSeconds(120), "node2 releases the fenced device");
        // How many samples fit in the run depends on the machine; what matters is that they span
        // it: some before the cut (checked below) and some after node2 came back.
        var released = clock.Elapsed.TotalSeconds;
        await AgentLabFixture.EventuallyAsync(() => { lock (samples) { return Task.FromResult(samples.Count(s => s.At >= released)); } }, n => n >= 3, TimeSpan.FromSeconds(60), "three samples after node2 released p5");
        await stop.CancelAsync();
        await poller;

        lock (samples)
        {
            Assert.Contains(samples, s => s.At < cutAt && s.Writable.SequenceEqual(["node2"]));
            Assert.All(samples, s => Assert.True(s.Writable.Length <= 1, $"at {s.At:0.0} s writable on {string.Join(", ", s.Writable)}"));
            Assert.True(samples.SkipWhile(s => !s.Writable.Contains("node3")).All(s => !s.Writable.Contains("node2")));
            Assert.All(samples.Where(s => s.At >= grantedAt), s => Assert.Equal(["node3"], s.Writable));
        }

        // Fenced by its deadline (FenceAfter after its last answered ping, at most a ping period
        // before the cut, once it sees no majority); granted elsewhere only after the coordinator
        // has not heard node2 for FenceAfter plus the grace (and the cluster downed it), which
        // leaves at least the grace, less a ping period, between node2's fence and the grant.
        var fenceLag = (fencedUnixNs - cutUnixNs) / 1e9;
        var grantLag = (grantedUnixNs - cutUnixNs) / 1e9;
        // The bound leaves room for the failure detector (about 3.4 s to see no majority) and for
        // fencing every LV the host holds, one dmsetup each, on a loaded lab host (seven took 2.1 s;
        // 8.18 s after the cut in the fresh-clone run of 7cb39c6, the machine at load 3-4).
        // What keeps two writers apart is the next check, the fence ahead of the grant by the grace.
        Assert.True(fenceLag is > 0 and <= FenceAfterSeconds + 6, $"node2 fenced p5 {fenceLag:0.00} s after the cut");
        Assert.True(grantLag >= FenceAfterSeconds + GraceSeconds - 1, $"node3 had p5 {grantLag:0.00} s after the cut");
        Assert.True(grantLag - fenceLag >= GraceSeconds - 1, $"node3 had p5 {grantLag - fenceLag:0.00} s after node2 fenced it");
    }

    [Fact]
    public async Task Unfence_AfterReconnectStillHoldingTheClaim_OnlyOnThatHost_RealTableBack()
    {
        await f.AllLiveAsync();
        await f.OkAsync("node1", "lv", "create", "p6", "--size", "16M");
        await f.OkAsync("node1", "lv", "activate", "p6", "--exclusive", "--host", "node3");
        // A snapshot writes its own copy-on-write store on the shared disk: fenced with its origin.
        await f.OkAsync("node1", "lv", "snapshot", "p6", "--name", "p6s", "--size", "8M");
        Assert.True(await WritableOnAsync("node3", "san-p6s"));
        await PartitionAsync("node3", cut: true);
        try
        {
            await AgentLabFixture.EventuallyAsync(async () => (await f.Lab.ExecAsync("node3", ["dmsetup", "table", "san-p6"])).Stdout, t => t.Contains(" error", StringComparison.Ordinal), TimeSpan.FromSeconds(3 * FenceAfterSeconds), "node3 fences p6");
            Assert.False(await WritableOnAsync("node3", "san-p6s"));
        }
        finally
        {
            await PartitionAsync("node3", cut: false);
        }

        // node3 reports the fence once it is back; the table stays an error table meanwhile.
        await AgentLabFixture.EventuallyAsync(async () => (await f.HostAsync("node3"))?.Alerts ?? [], a => a.Contains("fenced: p6"), TimeSpan.FromSeconds(30), "node3 reports the fence");
        Assert.False(await WritableOnAsync("node3", "san-p6"));

        var elsewhere = await f.CliAsync("node1", "lv", "unfence", "p6");
        Assert.Equal(1, elsewhere.ExitCode);
        Assert.Contains("not fenced on node1", elsewhere.Stderr, StringComparison.Ordinal);

        await UnfenceAsync("node3", "p6");
        Assert.True(await WritableOnAsync("node3", "san-p6"));
        Assert.True(await WritableOnAsync("node3", "san-p6s"));
        await f.Lab.ExecOkAsync("node3", ["dd", "if=/dev/zero", "of=/dev/mapper/san-p6", "bs=4096", "count=1", "oflag=direct", "status=none"]);
    }

    [Fact]
    public async Task AgentRestartedWhileCutOff_FencesWhatItHeldBeforeJoining()
    {
        await f.AllLiveAsync();
        await f.OkAsync("node1", "lv", "create", "p7", "--size", "16M");
        await f.OkAsync("node1", "lv", "activate", "p7", "--exclusive", "--host", "node3");
        // The agent dies while connected (nothing fenced), the host is cut off, the agent comes back.
        await global::VgMesh.Lab.Lab.RunAsync([global::VgMesh.Lab.Lab.Script, "--name", "agenttest", "agent", "kill", "node3"]);
        await PartitionAsync("node3", cut: true);
        try
        {
            Assert.True(await WritableOnAsync("node3", "san-p7"));
            var dir = (await f.Lab.EnvAsync())["VGMESH_LAB_NODE3_DIR"];
            await f.Lab.ExecOkAsync("node3", ["sh", "-c", $"setsid {dir}/boot.sh </dev/null >/dev/null 2>&1 &"]);
            await AgentLabFixture.EventuallyAsync(async () => (await f.Lab.ExecAsync("node3", ["dmsetup", "table", "san-p7"])).Stdout, t => t.Contains(" error", StringComparison.Ordinal),
                TimeSpan.FromSeconds(60), "the restarted, cut-off agent fences p7");
        }
        finally
        {
            await PartitionAsync("node3", cut: false);
        }

        // 150 s: room for one new incarnation (JoinWatcher, after 60 s outside a running cluster)
        // where the seeds' remoting keeps this one out, as seen twice in CI.
        await AgentLabFixture.EventuallyAsync(() => f.CliAsync("node3", "host", "list"), r => r.ExitCode == 0, TimeSpan.FromSeconds(150), "node3's agent joins after the heal");
        await UnfenceAsync("node3", "p7");
        Assert.True(await WritableOnAsync("node3", "san-p7"));
    }
}
