using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using VgMesh.Proof.Fuzzing;

namespace VgMesh.Proof;

/// <summary>
/// <c>vgmesh-proof</c>: the tools that try to break vgmesh's promises from outside, as an
/// attacker or a fault would. <c>fuzz api</c> and <c>fuzz lls</c> send generated hostile
/// requests and judge every answer. Exit codes: 0 every promise kept, 1 a violation, 2 usage.
/// </summary>
internal static class ProofApp
{
    private static readonly Option<int?> Seed = new("--seed") { Description = "the run's seed (default: a random one, printed); the same seed makes the same requests", Recursive = true };
    private static readonly Option<int> First = new("--first") { Description = "index of the first request (replay one with --first I --requests 1)", Recursive = true, DefaultValueFactory = _ => 0 };
    private static readonly Option<int> Requests = new("--requests") { Description = "how many requests", Recursive = true, DefaultValueFactory = _ => 10_000 };
    private static readonly Option<int> Concurrency = new("--concurrency") { Description = "clients sending at once", Recursive = true, DefaultValueFactory = _ => 4 };
    private static readonly Option<int> TimeoutSeconds = new("--timeout") { Description = "seconds a request may take before it counts as unanswered", Recursive = true, DefaultValueFactory = _ => 180 };
    private static readonly Option<string?> Report = new("--report") { Description = "write the JSON report to this file (default: standard output)", Recursive = true };

    public static async Task<int> RunAsync(string[] argv, TextWriter stdout, TextWriter stderr, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(argv);
        var url = new Option<string>("--address") { Description = "the agent's TCP API, HOST:PORT", Required = true };
        var tokenFile = new Option<string>("--token-file") { Description = "the file holding the cluster's bearer token", Required = true };
        var hosts = new Option<string>("--hosts") { Description = "the cluster's hosts, comma-separated (valid activations name them)", DefaultValueFactory = _ => "node1,node2,node3" };
        var api = new Command("api", "fuzz the operators' HTTP API over TCP") { url, tokenFile, hosts };
        api.SetAction(async (p, c) =>
        {
            var address = p.GetValue(url)!;
            var colon = address.LastIndexOf(':');
            if (colon <= 0 || !int.TryParse(address.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port))
            {
                await stderr.WriteLineAsync($"vgmesh-proof: --address '{address}' is not HOST:PORT").ConfigureAwait(false);
                return 2;
            }

            var token = (await File.ReadAllTextAsync(p.GetValue(tokenFile)!, c).ConfigureAwait(false)).Trim();
            if (token.Length < 2)
            {
                await stderr.WriteLineAsync($"vgmesh-proof: the token file {p.GetValue(tokenFile)} holds no token").ConfigureAwait(false);
                return 2;
            }

            var cases = new ApiCases(token, p.GetValue(hosts)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
            return await FuzzAsync(p, cases, Target.Tcp(address[..colon], port, token), stdout, stderr, c).ConfigureAwait(false);
        });

        var socket = new Option<string>("--socket") { Description = "the container's LLS socket", DefaultValueFactory = _ => "/lls/lls.sock" };
        var foreign = new Option<string>("--foreign") { Description = "names of another container's volumes, comma-separated: each must be invisible here", DefaultValueFactory = _ => "" };
        var lls = new Command("lls", "fuzz a container's LLS socket, from inside the container") { socket, foreign };
        lls.SetAction((p, c) => FuzzAsync(p, new LlsCases(p.GetValue(foreign)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)),
            Target.Unix(p.GetValue(socket)!), stdout, stderr, c));

        var fuzz = new Command("fuzz", "send generated hostile requests; every answer is judged (nothing invalid accepted, no server error, another container's volumes invisible)")
        {
            Seed, First, Requests, Concurrency, TimeoutSeconds, Report, api, lls,
        };
        var root = new RootCommand("vgmesh-proof: try to break vgmesh's promises from outside. Exit codes: 0 kept, 1 a violation, 2 usage.") { fuzz };
        var parsed = root.Parse(argv, new ParserConfiguration { ResponseFileTokenReplacer = null });
        var code = await parsed.InvokeAsync(new InvocationConfiguration { Output = stdout, Error = stderr }, ct).ConfigureAwait(false);
        return parsed.Errors.Count > 0 ? 2 : code;
    }

    private static async Task<int> FuzzAsync(ParseResult p, ICaseSource cases, Target target, TextWriter stdout, TextWriter stderr, CancellationToken ct)
    {
        var seed = p.GetValue(Seed) ?? Random.Shared.Next();
        await stderr.WriteLineAsync($"vgmesh-proof: fuzz {cases.Surface} against {target}, seed {seed}, requests {p.GetValue(First)}..{p.GetValue(First) + p.GetValue(Requests) - 1}").ConfigureAwait(false);
        var report = await FuzzRun.RunAsync(cases, target, seed, p.GetValue(First), p.GetValue(Requests), p.GetValue(Concurrency),
            TimeSpan.FromSeconds(p.GetValue(TimeoutSeconds)), ct).ConfigureAwait(false);
        var json = JsonSerializer.Serialize(report, ProofJsonContext.Default.FuzzReport);
        if (p.GetValue(Report) is { } file)
        {
            await File.WriteAllTextAsync(file, json + "\n", ct).ConfigureAwait(false);
        }
        else
        {
            await stdout.WriteLineAsync(json).ConfigureAwait(false);
        }

        foreach (var v in report.FirstViolations.Take(10))
        {
            await stderr.WriteLineAsync($"violation: request {v.Index} ({v.Kind}, expected {v.Expected}): {v.Why}\n  sent: {v.Request}\n  got:  {v.Status} {v.Answer}").ConfigureAwait(false);
        }

        await stderr.WriteLineAsync($"vgmesh-proof: {report.Requests} requests in {report.Seconds} s (p50 {report.P50Milliseconds} ms), {report.Violations} violations; seed {seed}").ConfigureAwait(false);
        return report.Passed ? 0 : 1;
    }
}
