using System.Text.Json;
using VgMesh.Client;
using VgMesh.Lvm.Commands;

namespace VgMesh.Agent.Tests.InLab;

/// <summary>A three-host lab "agenttest" with vgmeshd on every host and the VG "san".</summary>
public class AgentLabFixture : IAsyncLifetime
{
    /// <summary>
    /// One lab boots at a time. Two labs of agents booting together (six user-mode hosts, six
    /// agents starting .NET and Akka, an iSCSI target) on this machine's two cores twice left the
    /// main lab without a cluster on 2026-12-06: its first seed's log stopped 45 s into the boot
    /// after its lease renewal timed out, and the other agents never joined. Once up, labs run
    /// their tests side by side as before.
    /// </summary>
    private static readonly SemaphoreSlim Booting = new(1, 1);

    /// <summary>
    /// The labs beside the main one (iSCSI, lvmlockd) take turns: each holds this from before its
    /// boot until it is down. A third lab booted beside the main and iSCSI labs starved the main
    /// lab's hosts in the fresh-clone run of 6e75fb2 (2026-12-07: a fuzz request answered
    /// no-coordinator, a fence 9.6 s after its cut); one side lab at a time costs no wall time,
    /// since the main lab's collection is the longest by minutes.
    /// </summary>
    private static readonly SemaphoreSlim SideLab = new(1, 1);

    /// <summary>
    /// The main lab and the iSCSI lab (an iSCSI target and multipath besides three hosts) never run
    /// side by side: together they saturated this machine's two cores in four fresh-clone runs of
    /// 2026-12-07 (load 8-10: lease renewals to the lab's database missed, the iSCSI lab's agents
    /// did not settle on a coordinator, a partitioned holder fenced 15 s after its cut, a paused
    /// one's writes still went through after 60 s, completion's 2 s ran out for a minute). The
    /// lvmlockd lab, lighter, still runs beside the main one. Taken before SideLab. The price is
    /// time: the lab tests took 55 min in the fresh-clone run of 7cb39c6 this way; side by side
    /// (554b1f8) they were not faster (still running after 54 min, five tests failed on timing),
    /// and both are past ops/test's 40-minute budget.
    /// </summary>
    private static readonly SemaphoreSlim Heavy = new(1, 1);

    private readonly string[] _upArgs;
    private readonly bool _side;
    private readonly bool _heavy;
    private bool _holdsSideLab;
    private bool _holdsHeavy;

    /// <summary>The main lab: it runs beside the lvmlockd lab, never beside the iSCSI lab.</summary>
    public AgentLabFixture()
        : this("agenttest", side: false, heavy: true, "--containers", Containers)
    {
    }

    /// <summary>A side lab of three hosts with agents, with more arguments for <c>ops/lab up</c>: one side lab at a time; a heavy one never beside the main lab.</summary>
    protected AgentLabFixture(string name, bool heavy, params string[] upArgs)
        : this(name, side: true, heavy, upArgs)
    {
    }

    private AgentLabFixture(string name, bool side, bool heavy, params string[] upArgs) => (Lab, _upArgs, _side, _heavy) = (new(name), upArgs, side, heavy);

    /// <summary>LXC containers registered for LLS: two on node1, one on node2.</summary>
    public const string Containers = "node1:c1,node1:c2,node2:c3";

    public global::VgMesh.Lab.Lab Lab { get; }

    public async Task InitializeAsync()
    {
        if (_heavy)
        {
            await Heavy.WaitAsync();
            _holdsHeavy = true;
        }

        if (_side)
        {
            await SideLab.WaitAsync();
            _holdsSideLab = true;
        }

        await Booting.WaitAsync();
        try
        {
            var first = await UpAsync();
            if (first.Succeeded)
            {
                return;
            }

            // One more boot, once: in the official run of 7cb39c6 (2026-12-07) the main lab's
            // node1 agent did not answer within 240 s and its 37 tests failed unrun (a second
            // cluster formed by a downed first seed, fixed in d28c234; a boot can fail otherwise). The first
            // boot's logs are kept (boot1-*) and its error goes with a second failure.
            await Console.Error.WriteLineAsync($"lab {Lab.Name}: the first boot failed, booting again: {first.Stderr}");
            try
            {
                await KeepLogsAsync("boot1-");
            }
            catch (global::VgMesh.Lab.LabException e)
            {
                // A boot that died before writing the lab's environment left no logs to keep.
                await Console.Error.WriteLineAsync($"lab {Lab.Name}: no logs of the first boot: {e.Message}");
            }

            var second = await UpAsync();
            Assert.True(second.Succeeded, $"{second.Stderr}\n(the first boot failed too: {first.Stderr})");
        }
        finally
        {
            Booting.Release();
        }
    }

    private async Task<ProcessResult> UpAsync()
    {
        await Lab.DownAsync();
        return await global::VgMesh.Lab.Lab.RunAsync([global::VgMesh.Lab.Lab.Script, "--name", Lab.Name, "up", "--hosts", "3", "--agent", "--vg", "san", .. _upArgs]);
    }

    /// <summary>Keeps the agents' logs and the hosts' consoles (in .test-results/lab-logs/), then takes the lab down.</summary>
    public async Task DisposeAsync()
    {
        try
        {
            await KeepLogsAsync("");
        }
        finally
        {
            await Lab.DownAsync();
            if (_holdsSideLab)
            {
                _holdsSideLab = false;
                SideLab.Release();
            }

            if (_holdsHeavy)
            {
                _holdsHeavy = false;
                Heavy.Release();
            }
        }
    }

    /// <summary>Copies the agents' logs and the hosts' consoles to .test-results/lab-logs/, each name starting with <paramref name="prefix"/>.</summary>
    private async Task KeepLogsAsync(string prefix)
    {
        var env = await Lab.EnvAsync();
        var logs = Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(global::VgMesh.Lab.Lab.Script))!, ".test-results", "lab-logs");
        Directory.CreateDirectory(logs);
        foreach (var (key, dir) in env.Where(e => e.Key.StartsWith("VGMESH_LAB_NODE", StringComparison.Ordinal) && e.Key.EndsWith("_DIR", StringComparison.Ordinal)))
        {
            foreach (var (file, suffix) in new[] { ("vgmeshd.log", ""), ("console.log", "-console"), ("boot.log", "-boot") })
            {
                var log = Path.Combine(dir, file);
                if (File.Exists(log))
                {
                    File.Copy(log, Path.Combine(logs, $"{prefix}{Lab.Name}-{Path.GetFileName(dir)}{suffix}.log"), overwrite: true);
                }
            }
        }
    }

    /// <summary>The agent's metrics on a host, as Prometheus scrapes them (a read: retried if the lab's session sticks).</summary>
    public Task<string> MetricsAsync(string host) =>
        Lab.ReadAsync(host, ["curl", "-sf", "--unix-socket", "/run/vgmesh/vgmeshd.sock", "http://vgmeshd/metrics"]);

    /// <summary>The host's agent's log, as the lab keeps it on this machine.</summary>
    public async Task<string[]> AgentLogAsync(string host) =>
        await File.ReadAllLinesAsync(Path.Combine((await Lab.EnvAsync())[$"VGMESH_LAB_NODE{host[^1]}_DIR"], "vgmeshd.log"));

    /// <summary>Runs <c>vgmesh --json ARGS</c> on a host.</summary>
    public Task<ProcessResult> CliAsync(string host, params string[] args) => Lab.ExecAsync(host, ["vgmesh", "--json", .. args]);

    /// <summary>How many times a command <paramref name="verb"/> of <paramref name="subject"/> was started, summed over the three hosts' journals (<c>STATEDIR/journal.db</c>).</summary>
    public async Task<int> JournaledAsync(string verb, string subject)
    {
        var runs = 0;
        foreach (var h in new[] { "node1", "node2", "node3" })
        {
            var count = await Lab.ExecOkAsync(h, ["sqlite3", $"/var/lib/vgmesh-lab/{Lab.Name}/{h}/state/journal.db", $"select count(*) from intents where verb = '{verb}' and subject = '{subject}'"]);
            runs += int.Parse(count.Trim(), System.Globalization.CultureInfo.InvariantCulture);
        }

        return runs;
    }

    public async Task<OperationView> OkAsync(string host, params string[] args)
    {
        var r = await CliAsync(host, args);
        Assert.True(r.ExitCode == 0, $"vgmesh {string.Join(' ', args)} on {host} exited {r.ExitCode}: {r.Stderr}");
        return JsonSerializer.Deserialize(r.Stdout, ApiJsonContext.Default.OperationView)!;
    }

    /// <summary>One host as <paramref name="from"/>'s status shows it; null while it is not listed (a restarted agent rejoining).</summary>
    /// <summary>A host as the cluster's status shows it; null when the status could not be read (a busy lab's CLI timed out), so a poll tries again.</summary>
    public async Task<HostView?> HostAsync(string host, string from = "node1")
    {
        var r = await CliAsync(from, "cluster", "status");
        return r.ExitCode == 0 ? JsonSerializer.Deserialize(r.Stdout, ApiJsonContext.Default.ClusterStatusView)!.Hosts.SingleOrDefault(h => h.Host == host) : null;
    }

    public async Task<ClusterStatusView> StatusAsync(string host = "node1")
    {
        var r = await CliAsync(host, "cluster", "status");
        Assert.True(r.ExitCode == 0, $"vgmesh cluster status on {host} exited {r.ExitCode}: {r.Stderr}");
        return JsonSerializer.Deserialize(r.Stdout, ApiJsonContext.Default.ClusterStatusView)!;
    }

    /// <summary>Total sectors of a device's live table on a host, or null when the device is absent.</summary>
    public async Task<long?> TableSectorsAsync(string host, string dm)
    {
        var r = await Lab.ExecAsync(host, ["dmsetup", "table", dm]);
        return r.ExitCode != 0 ? null : r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Sum(l => long.Parse(l.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture));
    }

    public async Task<long> SeqnoAsync() =>
        long.Parse((await Lab.ExecOkAsync("node1", ["lvm", "vgs", "--noheadings", "-o", "vg_seqno", "san"])).Trim(), System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// Every host an up member with its agent answering: a host the cluster downed during an
    /// earlier cut restarts its agent (exit 75), which takes a lab host some seconds.
    /// </summary>
    public Task AllLiveAsync() => AgentLabFixture.EventuallyAsync(async () =>
    {
        var agents = 0;
        foreach (var h in new[] { "node1", "node2", "node3" })
        {
            agents += (await CliAsync(h, "host", "list")).ExitCode == 0 ? 1 : 0;
        }

        return agents == 3 ? (await StatusAsync()).Hosts.Count(h => h.Alive) : 0;
    }, n => n == 3, TimeSpan.FromSeconds(90), "every host up, its agent answering");

    public static Task<T> EventuallyAsync<T>(Func<Task<T>> probe, Func<T, bool> ok, TimeSpan within, string what) =>
        global::VgMesh.Lab.Eventually.UntilAsync(probe, ok, within, what, TimeSpan.FromMilliseconds(250));
}

[CollectionDefinition("agent-lab")]
public sealed class AgentLabGroup : ICollectionFixture<AgentLabFixture>;
