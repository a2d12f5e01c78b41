using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace VgMesh.Torture;

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(TortureReport))]
[JsonSerializable(typeof(HistoryEntry))]
[JsonSerializable(typeof(FaultEntry))]
[JsonSerializable(typeof(HashSet<string>))]
internal sealed partial class TortureJsonContext : JsonSerializerContext
{
    /// <summary>One object per line, for the history file.</summary>
    public static TortureJsonContext Compact { get; } = new(new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.CamelCase });
}

/// <summary>
/// <c>vgmesh-torture</c>: a randomized run of clients and faults over a lab with agents, then a
/// check of the whole history. Exit codes: 0 every check passed, 1 a violation, 2 usage or the
/// lab not ready.
/// </summary>
internal static class TortureApp
{
    public static async Task<int> RunAsync(string[] argv, TextWriter stdout, TextWriter stderr, CancellationToken ct = default)
    {
        var lab = new Option<string>("--lab") { Description = "the lab (ops/lab --name) with agents running", DefaultValueFactory = _ => "torture" };
        var seed = new Option<int?>("--seed") { Description = "the run's seed (default: a random one, printed); the same seed makes the same requests and faults" };
        var minutes = new Option<double>("--minutes") { Description = "how long clients send", DefaultValueFactory = _ => 3 };
        var clients = new Option<int>("--clients-per-host") { Description = "clients sending to each host's API", DefaultValueFactory = _ => 2 };
        var faultEvery = new Option<double>("--fault-every") { Description = "seconds between faults, on average", DefaultValueFactory = _ => 15 };
        var noFaults = new Option<bool>("--no-faults") { Description = "clients only" };
        var kinds = new Option<string?>("--faults") { Description = $"the faults to choose from, comma-separated (default all: {string.Join(',', TortureRun.AllFaults.Select(k => k.Kind))})" };
        var report = new Option<string?>("--report") { Description = "write the JSON report here" };
        var history = new Option<string?>("--history") { Description = "write every request and fault here, one JSON object per line" };
        var check = new Option<bool>("--check") { Description = "check the options and stop (ops/torture does, before it boots a lab)" };
        var root = new RootCommand("vgmesh-torture: clients and faults over a lab, then a check of the whole history. Exit codes: 0 passed, 1 a violation, 2 usage.")
        {
            lab, seed, minutes, clients, faultEvery, noFaults, kinds, report, history, check,
        };
        root.SetAction(async (p, c) =>
        {
            if (p.GetValue(minutes) is <= 0 or > 24 * 60 || p.GetValue(clients) is < 1 or > 32 || p.GetValue(faultEvery) < 5)
            {
                await stderr.WriteLineAsync("vgmesh-torture: --minutes must be 0-1440, --clients-per-host 1-32, --fault-every at least 5").ConfigureAwait(false);
                return 2;
            }

            var chosen = p.GetValue(kinds)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.Ordinal);
            if (chosen?.FirstOrDefault(k => TortureRun.AllFaults.All(f => f.Kind != k)) is { } unknown || chosen is { Count: 0 })
            {
                await stderr.WriteLineAsync($"vgmesh-torture: --faults: '{p.GetValue(kinds)}' names no fault or an unknown one; choose from {string.Join(", ", TortureRun.AllFaults.Select(k => k.Kind))}").ConfigureAwait(false);
                return 2;
            }

            if (p.GetValue(check))
            {
                return 0;
            }

            var settings = new TortureSettings(p.GetValue(lab)!, p.GetValue(seed) ?? Random.Shared.Next(1, 1_000_000), TimeSpan.FromMinutes(p.GetValue(minutes)),
                p.GetValue(clients), !p.GetValue(noFaults), TimeSpan.FromSeconds(p.GetValue(faultEvery)), chosen);
            var (result, h) = await new TortureRun(settings, stderr).RunAsync(c).ConfigureAwait(false);
            if (p.GetValue(report) is { } file)
            {
                await File.WriteAllTextAsync(file, JsonSerializer.Serialize(result, TortureJsonContext.Default.TortureReport) + "\n", c).ConfigureAwait(false);
            }

            if (p.GetValue(history) is { } lines)
            {
                await File.WriteAllLinesAsync(lines, [.. h.Requests.Select(r => JsonSerializer.Serialize(r, TortureJsonContext.Compact.HistoryEntry)),
                    .. h.Faults.Select(f => JsonSerializer.Serialize(f, TortureJsonContext.Compact.FaultEntry))], c).ConfigureAwait(false);
            }

            await stdout.WriteLineAsync(Summary(result)).ConfigureAwait(false);
            return result.Passed ? 0 : 1;
        });
        var parsed = root.Parse(argv);
        var code = await parsed.InvokeAsync(new InvocationConfiguration { Output = stdout, Error = stderr }, ct).ConfigureAwait(false);
        return parsed.Errors.Count > 0 ? 2 : code;
    }

    /// <summary>The readable summary: the figures, then each violation with its excerpt.</summary>
    internal static string Summary(TortureReport r)
    {
        var lines = new List<string>
        {
            $"torture {r.RunId} (seed {r.Seed}): {(r.Passed ? "PASSED" : $"FAILED, {r.Violations.Count(Checker.Fails)} violation(s)")}" +
                (r.Violations.Any(v => !Checker.Fails(v)) ? $"; {r.Violations.Count(v => !Checker.Fails(v))} known limit(s)" : ""),
            $"  {r.Requests} requests from {r.Clients} clients in {r.Seconds:0} s: {r.Ok} ok, {r.Failed} refused, {r.Unknown} unknown",
            $"  acknowledged by kind: {string.Join(", ", r.OkByKind.Select(k => $"{k.Key} {k.Value}"))}",
            $"  faults: {(r.Faults.Count == 0 ? "none" : string.Join(", ", r.Faults.Select(f => $"{f.Key} {f.Value}")))}",
            $"  {r.Samples} device-mapper samples, {r.Events} journal events of this run, hosts agreed {r.ConvergedSeconds:0.0} s after the last fault healed",
        };
        foreach (var v in r.Violations.OrderBy(v => !Checker.Fails(v)).Take(20))
        {
            lines.Add($"  {(Checker.Fails(v) ? "VIOLATION" : "KNOWN LIMIT")} {v.Check}: {v.What}");
            lines.AddRange(v.Excerpt.Select(e => "      " + e));
        }

        return string.Join('\n', lines);
    }
}
