using System.Collections.Concurrent;
using System.Globalization;
using VgMesh.Client;
using VgMesh.Lab;

namespace VgMesh.Torture;

/// <summary>What a run is: which lab, how long, how many clients, which faults, the seed.</summary>
/// <param name="FaultKinds">The faults the nemesis may choose (null: all of <see cref="TortureRun.AllFaults"/>).</param>
public sealed record TortureSettings(string LabName, int Seed, TimeSpan Duration, int ClientsPerHost, bool Faults, TimeSpan FaultEvery, IReadOnlySet<string>? FaultKinds = null);

/// <summary>The run's figures and verdict (<c>--report</c> writes it as JSON).</summary>
public sealed record TortureReport(
    string RunId,
    int Seed,
    double Seconds,
    int Clients,
    int Requests,
    int Ok,
    int Failed,
    int Unknown,
    IReadOnlyDictionary<string, int> OkByKind,
    IReadOnlyDictionary<string, int> Faults,
    int Samples,
    int Events,
    double ConvergedSeconds,
    IReadOnlyList<Violation> Violations)
{
    public bool Passed => !Violations.Any(Checker.Fails);
}

/// <summary>
/// One torture run over a running lab with agents: clients on every host send metadata
/// operations while the nemesis kills agents (the coordinator's most), pauses hosts past the
/// failure timeouts, cuts them off the cluster network and crashes them; samplers in the hosts
/// watch device-mapper; at the end every fault is healed, the hosts are given time to agree,
/// and the <see cref="Checker"/> judges the whole history.
/// </summary>
public sealed class TortureRun(TortureSettings settings, TextWriter log)
{
    /// <summary>The nemesis's faults and how often each is chosen (the coordinator's death most: it is what takeover is about).</summary>
    public static readonly IReadOnlyList<(string Kind, int Weight)> AllFaults = [("kill-coordinator", 4), ("kill-agent", 2), ("pause", 2), ("partition", 2), ("crash", 1), ("db-restart", 1)];

    private readonly global::VgMesh.Lab.Lab _lab = new(settings.LabName);
    private readonly ConcurrentBag<HistoryEntry> _requests = [];
    private readonly ConcurrentBag<FaultEntry> _faults = [];
    private readonly Dictionary<string, VgMeshClient> _api = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _dirs = new(StringComparer.Ordinal);
    private string _vg = "san";

    public async Task<(TortureReport Report, TortureHistory History)> RunAsync(CancellationToken ct)
    {
        var env = await _lab.EnvAsync(ct).ConfigureAwait(false);
        _vg = env.GetValueOrDefault("VGMESH_LAB_VG") ?? throw new LabException($"lab '{settings.LabName}' runs no agents: start it with 'ops/lab --name {settings.LabName} up --agent'", null);
        var token = (await File.ReadAllTextAsync(env["VGMESH_LAB_TOKEN_FILE"], ct).ConfigureAwait(false)).Trim();
        for (var n = 1; env.TryGetValue($"VGMESH_LAB_NODE{n}_SAN", out var san); n++)
        {
            _api[$"node{n}"] = VgMeshClient.ForTcp(new Uri($"http://{san}:7070/"), token, TimeSpan.FromSeconds(60), reuseConnections: false);
            _dirs[$"node{n}"] = env[$"VGMESH_LAB_NODE{n}_DIR"];
        }

        var hosts = _api.Keys.Order(StringComparer.Ordinal).ToList();
        var started = DateTimeOffset.UtcNow;
        var runId = $"t{settings.Seed}x{started:HHmmss}";
        Log($"torture {runId}: {hosts.Count} hosts, {settings.ClientsPerHost} clients each, {settings.Duration.TotalMinutes:0.#} min, faults {(settings.Faults ? "every ~" + settings.FaultEvery.TotalSeconds.ToString("0", CultureInfo.InvariantCulture) + " s" : "off")}, seed {settings.Seed}");
        foreach (var h in hosts)
        {
            File.Delete(Path.Combine(_dirs[h], Sampler.FileName));
            await StartSamplerAsync(h, ct).ConfigureAwait(false);
        }

        var deadline = started + settings.Duration;
        var clients = hosts.SelectMany((h, i) => Enumerable.Range(0, settings.ClientsPerHost).Select(k => (Host: h, Index: i * settings.ClientsPerHost + k)))
            .Select(c => ClientAsync(runId, c.Index, c.Host, new Workload(new Random(settings.Seed * 1000 + c.Index), hosts), deadline, ct)).ToList();
        var nemesis = settings.Faults ? NemesisAsync(hosts, new Random(settings.Seed ^ 0x5eed), deadline, ct) : Task.CompletedTask;
        await Task.WhenAll([.. clients, nemesis]).ConfigureAwait(false);

        // Every fault is healed by now; the hosts must agree within the checker's bound.
        await EnsureAgentsAsync(hosts, ct).ConfigureAwait(false);
        var (status, converged) = await ConvergeAsync(ct).ConfigureAwait(false);
        Log($"converged after {converged.TotalSeconds:0.0} s; waiting one reconcile pass before reading the end state");
        await Task.Delay(TimeSpan.FromSeconds(12), ct).ConfigureAwait(false);
        var final = await FinalAsync(hosts, status, converged, ct).ConfigureAwait(false);
        foreach (var h in hosts)
        {
            await _lab.ExecAsync(h, ["pkill", "-f", Sampler.ScriptName], ct).ConfigureAwait(false);
        }

        var samples = new List<DmSample>();
        foreach (var h in hosts)
        {
            samples.AddRange(Sampler.Parse(h, _vg, await File.ReadAllLinesAsync(Path.Combine(_dirs[h], Sampler.FileName), ct).ConfigureAwait(false)));
        }

        var events = new List<EventView>();
        await foreach (var e in _api[hosts[0]].EventsAsync(null, false, ct).ConfigureAwait(false))
        {
            events.Add(e);
        }

        var history = new TortureHistory(runId, [.. _requests.OrderBy(r => r.Invoked)], [.. _faults.OrderBy(f => f.Start)], samples, events, final);
        var violations = Checker.Check(history);
        var all = history.Requests;
        var report = new TortureReport(runId, settings.Seed, Math.Round((DateTimeOffset.UtcNow - started).TotalSeconds, 1), clients.Count, all.Count,
            all.Count(r => r.Outcome == Outcome.Ok), all.Count(r => r.Outcome == Outcome.Failed), all.Count(r => r.Outcome == Outcome.Unknown),
            all.Where(r => r.Outcome == Outcome.Ok).GroupBy(r => r.Op.Kind).OrderBy(g => g.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count()),
            history.Faults.GroupBy(f => f.Kind).OrderBy(g => g.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count()),
            samples.Count, events.Count(e => e.OperationId?.StartsWith(runId + "-", StringComparison.Ordinal) == true), Math.Round(converged.TotalSeconds, 1), violations);
        return (report, history);
    }

    private async Task ClientAsync(string runId, int index, string host, Workload workload, DateTimeOffset deadline, CancellationToken ct)
    {
        var api = _api[host];
        var think = new Random(settings.Seed * 7919 + index);
        for (var n = 0; DateTimeOffset.UtcNow < deadline; n++)
        {
            var op = workload.Next();
            var id = $"{runId}-{index}-{n}";
            var invoked = DateTimeOffset.UtcNow;
            var (outcome, code, revision, message) = await SendAsync(api, op, id, ct).ConfigureAwait(false);
            _requests.Add(new HistoryEntry(index, host, op, id, invoked, DateTimeOffset.UtcNow, outcome, code, revision, message));
            // An agent that is down answers nothing for a while; do not spin.
            await Task.Delay(code == "unreachable" ? TimeSpan.FromSeconds(1) : TimeSpan.FromMilliseconds(think.Next(50, 250)), ct).ConfigureAwait(false);
        }
    }

    private static async Task<(Outcome, string?, long?, string?)> SendAsync(VgMeshClient api, TortureOp op, string id, CancellationToken ct)
    {
        try
        {
            var done = op.Kind switch
            {
                "create" => await api.CreateLvAsync(new CreateLvBody(op.Lv, op.Arg!, null, id), ct).ConfigureAwait(false),
                "extend" => await api.ExtendLvAsync(op.Lv, new ResizeLvBody(op.Arg!, id), ct).ConfigureAwait(false),
                "reduce" => await api.ReduceLvAsync(op.Lv, new ResizeLvBody(op.Arg!, id), ct).ConfigureAwait(false),
                "remove" => await api.RemoveLvAsync(op.Lv, id, ct).ConfigureAwait(false),
                "rename" => await api.RenameLvAsync(op.Lv, new RenameLvBody(op.Arg!, id), ct).ConfigureAwait(false),
                "snapshot" => await api.SnapshotLvAsync(op.Lv, new SnapshotLvBody(op.Arg!, "4M", null, id), ct).ConfigureAwait(false),
                "merge" => await api.MergeLvAsync(op.Lv, new MergeLvBody(id), ct).ConfigureAwait(false),
                "activate" => await api.ActivateLvAsync(op.Lv, new ActivateLvBody(op.Host, true, false, id), ct).ConfigureAwait(false),
                "activate-shared" => await api.ActivateLvAsync(op.Lv, new ActivateLvBody(op.Host, false, false, id), ct).ConfigureAwait(false),
                "deactivate" => await api.DeactivateLvAsync(op.Lv, new DeactivateLvBody(op.Host, id), ct).ConfigureAwait(false),
                _ => throw new ArgumentException($"unknown operation {op.Kind}", nameof(op)),
            };
            return (Outcome.Ok, null, done.Revision, done.Message);
        }
        catch (VgMeshApiException e)
        {
            // A 5xx (no coordinator: outcome unknown after waiting in its queue; an internal error)
            // may have been applied; a 4xx is a refusal that changed nothing.
            return (e.Problem.Status >= 500 ? Outcome.Unknown : Outcome.Failed, e.Problem.Code, null, e.Problem.Detail);
        }
        catch (HttpRequestException e)
        {
            // Unknown even when the connect was refused: the 20-minute run of seed 4242 saw a
            // "Connection refused" 6 s into a remove that the journal then applied (the handler's
            // own retry after the agent had read the request), so only an answer is certain.
            return (Outcome.Unknown, e.InnerException is System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.ConnectionRefused } ? "unreachable" : "connection-lost", null, e.Message);
        }
        catch (TaskCanceledException e) when (!ct.IsCancellationRequested)
        {
            return (Outcome.Unknown, "timeout", null, e.Message);
        }
    }

    private async Task NemesisAsync(List<string> hosts, Random r, DateTimeOffset deadline, CancellationToken ct)
    {
        var kinds = AllFaults.Where(k => settings.FaultKinds?.Contains(k.Kind) ?? true).ToArray();
        while (DateTimeOffset.UtcNow + settings.FaultEvery + TimeSpan.FromSeconds(25) < deadline)
        {
            await Task.Delay(settings.FaultEvery * (0.5 + r.NextDouble()), ct).ConfigureAwait(false);
            var roll = r.Next(kinds.Sum(k => k.Weight));
            var kind = kinds.First(k => (roll -= k.Weight) < 0).Kind;
            var host = kind switch
            {
                "kill-coordinator" => await LeaderAsync(hosts, ct).ConfigureAwait(false) ?? hosts[r.Next(hosts.Count)],
                "db-restart" => "postgresql",
                _ => hosts[r.Next(hosts.Count)],
            };
            var start = DateTimeOffset.UtcNow;
            Log($"{start:HH:mm:ss} fault {kind} {host}");
            switch (kind)
            {
                case "kill-coordinator" or "kill-agent":
                    await LabAsync(ct, "agent", "kill", host).ConfigureAwait(false);
                    await Task.Delay(TimeSpan.FromSeconds(1 + r.Next(4)), ct).ConfigureAwait(false);
                    try
                    {
                        await LabAsync(ct, "agent", "start", host).ConfigureAwait(false);
                    }
                    catch (LabException e)
                    {
                        // An agent that does not answer in time is the run's finding, not its end:
                        // the checks say what it cost (the run of seed 61206 ended here before).
                        Log(e.Message);
                    }

                    break;
                case "pause":
                    // Past the failure detector and the fence timeout (4 s): the others take over.
                    await LabAsync(ct, "pause", host).ConfigureAwait(false);
                    await Task.Delay(TimeSpan.FromSeconds(8 + r.Next(7)), ct).ConfigureAwait(false);
                    await LabAsync(ct, "resume", host).ConfigureAwait(false);
                    break;
                case "partition":
                    await LabAsync(ct, "partition", host).ConfigureAwait(false);
                    await Task.Delay(TimeSpan.FromSeconds(6 + r.Next(10)), ct).ConfigureAwait(false);
                    await LabAsync(ct, "heal", host).ConfigureAwait(false);
                    break;
                case "db-restart":
                    // The journal's and the lease's database killed (no clean shutdown) and started
                    // again a few seconds later: the coordinator loses its lease meanwhile.
                    await LabAsync(ct, "db", "kill").ConfigureAwait(false);
                    await Task.Delay(TimeSpan.FromSeconds(2 + r.Next(6)), ct).ConfigureAwait(false);
                    await LabAsync(ct, "db", "start").ConfigureAwait(false);
                    break;
                case "crash":
                    await LabAsync(ct, "crash", host).ConfigureAwait(false);
                    await Task.Delay(TimeSpan.FromSeconds(2), ct).ConfigureAwait(false);
                    await LabAsync(ct, "boot", host).ConfigureAwait(false);
                    await StartSamplerAsync(host, ct).ConfigureAwait(false);
                    break;
            }

            _faults.Add(new FaultEntry(kind, host, start, DateTimeOffset.UtcNow));
            await EnsureAgentsAsync(hosts, ct).ConfigureAwait(false);
        }
    }

    private async Task<string?> LeaderAsync(List<string> hosts, CancellationToken ct)
    {
        foreach (var h in hosts)
        {
            try
            {
                return (await _api[h].ClusterStatusAsync(ct).ConfigureAwait(false)).Leader;
            }
            catch (Exception e) when (e is HttpRequestException or VgMeshApiException or TaskCanceledException)
            {
                // Ask the next.
            }
        }

        return null;
    }

    /// <summary>Every agent answers (one that exited, downed by the cluster past its restarts, is started).</summary>
    private async Task EnsureAgentsAsync(IReadOnlyList<string> hosts, CancellationToken ct)
    {
        foreach (var h in hosts)
        {
            for (var attempt = 0; ; attempt++)
            {
                try
                {
                    await _api[h].ListHostsAsync(ct).ConfigureAwait(false);
                    break;
                }
                catch (Exception e) when (e is HttpRequestException or VgMeshApiException or TaskCanceledException && attempt < 30)
                {
                    if (attempt == 10)
                    {
                        Log($"{h}'s agent does not answer ({e.Message}); starting it");
                        try
                        {
                            await LabAsync(ct, "agent", "start", h).ConfigureAwait(false);
                        }
                        catch (LabException failed)
                        {
                            // One still stopping refuses a second; its boot script starts the next.
                            Log(failed.Message);
                        }
                    }

                    await Task.Delay(TimeSpan.FromSeconds(1), ct).ConfigureAwait(false);
                }
            }
        }
    }

    private async Task<(ClusterStatusView Status, TimeSpan Took)> ConvergeAsync(CancellationToken ct)
    {
        var from = DateTimeOffset.UtcNow;
        ClusterStatusView? status = null;
        while (DateTimeOffset.UtcNow - from < Checker.ConvergeWithin * 2)
        {
            try
            {
                status = await _api.Values.First().ClusterStatusAsync(ct).ConfigureAwait(false);
                if (status.Hosts.Count == _api.Count && status.Hosts.All(h => h.AppliedRevision == status.LastEvent))
                {
                    break;
                }
            }
            catch (Exception e) when (e is HttpRequestException or VgMeshApiException or TaskCanceledException)
            {
                // Not yet.
            }

            await Task.Delay(TimeSpan.FromMilliseconds(500), ct).ConfigureAwait(false);
        }

        return (status ?? await _api.Values.First().ClusterStatusAsync(ct).ConfigureAwait(false), DateTimeOffset.UtcNow - from);
    }

    private async Task<FinalState> FinalAsync(List<string> hosts, ClusterStatusView status, TimeSpan converged, CancellationToken ct)
    {
        var seqnos = new Dictionary<string, long>(StringComparer.Ordinal);
        var dm = new Dictionary<string, IReadOnlySet<string>>(StringComparer.Ordinal);
        var wiped = new Dictionary<string, IReadOnlySet<string>>(StringComparer.Ordinal);
        var fenced = new Dictionary<string, IReadOnlySet<string>>(StringComparer.Ordinal);
        foreach (var h in hosts)
        {
            seqnos[h] = long.Parse((await _lab.ReadAsync(h, ["lvm", "vgs", "--noheadings", "-o", "vg_seqno", _vg], ct: ct).ConfigureAwait(false)).Trim(), CultureInfo.InvariantCulture);
            var table = (await _lab.ReadAsync(h, ["dmsetup", "table"], ct: ct).ConfigureAwait(false)).Split('\n');
            dm[h] = Sampler.Devices(_vg, table);
            wiped[h] = Sampler.Wiped(_vg, table);
            // The agent's record, from its state directory (the host's directory is this machine's).
            var record = Path.Combine(_dirs[h], "state", "fenced.json");
            fenced[h] = File.Exists(record) ? System.Text.Json.JsonSerializer.Deserialize(await File.ReadAllTextAsync(record, ct).ConfigureAwait(false), TortureJsonContext.Compact.HashSetString) ?? [] : new HashSet<string>();
        }

        var vgck = await _lab.ExecAsync(hosts[0], ["lvm", "vgck", _vg], ct).ConfigureAwait(false);
        var lvs = (await _lab.ReadAsync(hosts[0], ["lvm", "lvs", "--noheadings", "-o", "lv_name", _vg], ct: ct).ConfigureAwait(false))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.Ordinal);
        return new FinalState(status.LastEvent, status.Hosts.ToDictionary(h => h.Host, h => h.AppliedRevision, StringComparer.Ordinal), seqnos,
            vgck.ExitCode == 0, (vgck.Stdout + vgck.Stderr).Trim(), lvs, dm, converged.TotalSeconds)
        {
            WipedByHost = wiped,
            FencedByHost = fenced,
        };
    }

    private async Task StartSamplerAsync(string host, CancellationToken ct)
    {
        var script = Path.Combine(_dirs[host], Sampler.ScriptName);
        await File.WriteAllTextAsync(script, Sampler.Script(Path.Combine(_dirs[host], Sampler.FileName)), ct).ConfigureAwait(false);
        await _lab.ExecOkAsync(host, ["sh", "-c", $"setsid bash {script} </dev/null >/dev/null 2>&1 &"], ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Runs <c>ops/lab</c> in the machine's own namespaces, those of the process that started
    /// the run (<c>ops/torture</c> gives its pid in <c>VGMESH_TORTURE_OUTSIDE</c>; pid 1's may
    /// not be entered in a sandbox): the run itself is in the lab's network namespace (where the
    /// agents' API is), whose <c>ip netns exec</c> mounted a sysfs of its own, without the cgroup
    /// freezer that pause and resume write to. A fault that cannot be injected ends the run: its
    /// history would not be what it claims.
    /// </summary>
    private async Task LabAsync(CancellationToken ct, params string[] args)
    {
        var outside = Environment.GetEnvironmentVariable("VGMESH_TORTURE_OUTSIDE") is { Length: > 0 } pid && int.TryParse(pid, CultureInfo.InvariantCulture, out var n) && n > 0
            ? n.ToString(CultureInfo.InvariantCulture)
            : throw new LabException("VGMESH_TORTURE_OUTSIDE is not set to a pid outside the lab's namespace: start runs with ops/torture", null);
        var r = await global::VgMesh.Lab.Lab.RunAsync(["nsenter", "--target", outside, "--mount", "--net", "--", global::VgMesh.Lab.Lab.Script, "--name", settings.LabName, .. args], ct).ConfigureAwait(false);
        if (!r.Succeeded)
        {
            throw new LabException($"ops/lab {string.Join(' ', args)} failed with exit code {r.ExitCode}: {r.Stderr.Trim()}", r);
        }
    }

    private void Log(string line)
    {
        lock (log)
        {
            log.WriteLine($"vgmesh-torture: {line}");
            log.Flush();
        }
    }
}
