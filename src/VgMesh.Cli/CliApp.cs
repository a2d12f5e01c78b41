using System.Globalization;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using VgMesh.Client;

namespace VgMesh.Cli;

/// <summary>
/// <c>vgmesh NOUN VERB [ARGS]</c>, mirroring the API. Exit codes: 0 done and applied everywhere;
/// 1 refused or failed (the message says why and what to do); 2 usage; 3 the agent cannot be
/// reached; 4 done, but some hosts had not applied it when the wait ended.
/// </summary>
internal static class CliApp
{
    public const int Ok = 0, Failed = 1, Usage = 2, Unreachable = 3, Lagging = 4;

    private const string Help = """
        usage: vgmesh [--socket PATH | --endpoint URL --token-file FILE] [--json] NOUN VERB [ARGS]
          lv list
          lv show NAME
          lv create NAME --size SIZE [--tag TAG]...     SIZE like 10G, 512M (LVM units)
          lv remove NAME
          lv extend NAME --size +SIZE|SIZE
          lv reduce NAME --size -SIZE|SIZE
          lv rename NAME NEWNAME                        inactive everywhere first
          lv snapshot ORIGIN --name SNAP --size SIZE [--chunk-size 64K]
                                                        runs where ORIGIN is active (its kernel does the COW)
          lv merge SNAP                                 merge a snapshot back into its origin
          lv activate NAME --exclusive|--shared [--host HOST] [--wait]
          lv deactivate NAME [--host HOST]              everywhere, or HOST leaves a shared claim
          lv unfence NAME                               on the host that fenced it, once it holds the claim
          host list
          host show HOST
          cluster status
          events [--after REVISION] [--follow]          one line per event; --follow waits for more
        exit codes: 0 done, 1 refused or failed, 2 usage, 3 agent unreachable, 4 not yet applied everywhere
        """;

    public static async Task<int> RunAsync(string[] argv, TextWriter stdout, TextWriter stderr)
    {
        ArgumentNullException.ThrowIfNull(argv);
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        var a = new ArgReader(argv);
        var socket = a.Option("--socket") ?? Environment.GetEnvironmentVariable("VGMESH_SOCKET") ?? "/run/vgmesh/vgmeshd.sock";
        var endpoint = a.Option("--endpoint") ?? Environment.GetEnvironmentVariable("VGMESH_ENDPOINT");
        var tokenFile = a.Option("--token-file") ?? Environment.GetEnvironmentVariable("VGMESH_TOKEN_FILE");
        var json = a.Flag("--json");
        if (a.Flag("--help") || a.Flag("-h"))
        {
            await stdout.WriteAsync(Help).ConfigureAwait(false);
            return Ok;
        }

        var words = a.Positional();
        if (words is ["events", ..])
        {
            words.Insert(1, "list");
        }

        if (words.Count < 2)
        {
            await stderr.WriteLineAsync(Help).ConfigureAwait(false);
            return Usage;
        }

        VgMeshClient client;
        try
        {
            client = endpoint is null ? VgMeshClient.ForUnixSocket(socket)
                : VgMeshClient.ForTcp(new Uri(endpoint), tokenFile is null ? throw new ArgumentException("--endpoint needs --token-file with the cluster's token") : File.ReadAllText(tokenFile).Trim());
        }
        catch (Exception e) when (e is ArgumentException or IOException or UriFormatException)
        {
            await stderr.WriteLineAsync($"vgmesh: {e.Message}").ConfigureAwait(false);
            return Usage;
        }

        using (client)
        {
            try
            {
                return (words[0], words[1]) switch
                {
                    ("lv", "list") => await PrintAsync(await client.ListLvsAsync().ConfigureAwait(false), ApiJsonContext.Default.ListLvView, json, stdout, LvTable).ConfigureAwait(false),
                    ("lv", "show") => await PrintAsync(await client.ShowLvAsync(ArgReader.Name(words)).ConfigureAwait(false), ApiJsonContext.Default.LvView, json, stdout, v => LvTable([v])).ConfigureAwait(false),
                    ("lv", "create") => await ChangeAsync(client.CreateLvAsync(new CreateLvBody(ArgReader.Name(words), a.Required("--size"), a.Options("--tag"))), json, stdout, stderr).ConfigureAwait(false),
                    ("lv", "remove") => await ChangeAsync(client.RemoveLvAsync(ArgReader.Name(words)), json, stdout, stderr).ConfigureAwait(false),
                    ("lv", "extend") => await ChangeAsync(client.ExtendLvAsync(ArgReader.Name(words), new ResizeLvBody(a.Required("--size"))), json, stdout, stderr).ConfigureAwait(false),
                    ("lv", "reduce") => await ChangeAsync(client.ReduceLvAsync(ArgReader.Name(words), new ResizeLvBody(a.Required("--size"))), json, stdout, stderr).ConfigureAwait(false),
                    ("lv", "rename") => await ChangeAsync(client.RenameLvAsync(ArgReader.Name(words), new RenameLvBody(words.Count >= 4 ? words[3] : throw new ArgumentException("lv rename needs NAME and NEWNAME"))), json, stdout, stderr).ConfigureAwait(false),
                    ("lv", "snapshot") => await ChangeAsync(client.SnapshotLvAsync(ArgReader.Name(words), new SnapshotLvBody(a.Required("--name"), a.Required("--size"), a.Option("--chunk-size"))), json, stdout, stderr).ConfigureAwait(false),
                    ("lv", "merge") => await ChangeAsync(client.MergeLvAsync(ArgReader.Name(words), new MergeLvBody()), json, stdout, stderr).ConfigureAwait(false),
                    ("lv", "activate") => await ChangeAsync(client.ActivateLvAsync(ArgReader.Name(words), new ActivateLvBody(a.Option("--host"), Exclusive: ActivationFlag(a), Wait: a.Flag("--wait"))), json, stdout, stderr).ConfigureAwait(false),
                    ("lv", "deactivate") => await ChangeAsync(client.DeactivateLvAsync(ArgReader.Name(words), new DeactivateLvBody(a.Option("--host"))), json, stdout, stderr).ConfigureAwait(false),
                    ("lv", "unfence") => await ChangeAsync(client.UnfenceLvAsync(ArgReader.Name(words)), json, stdout, stderr).ConfigureAwait(false),
                    ("host", "show") => await PrintAsync(await client.ShowHostAsync(ArgReader.Name(words)).ConfigureAwait(false), ApiJsonContext.Default.HostView, json, stdout, h => HostTable([h])).ConfigureAwait(false),
                    ("host", "list") => await PrintAsync(await client.ListHostsAsync().ConfigureAwait(false), ApiJsonContext.Default.ListHostView, json, stdout, HostTable).ConfigureAwait(false),
                    ("events", "list") => await EventsAsync(client, a.Option("--after") is { } after ? long.Parse(after, CultureInfo.InvariantCulture) : null, a.Flag("--follow"), json, stdout).ConfigureAwait(false),
                    ("cluster", "status") => await PrintAsync(await client.ClusterStatusAsync().ConfigureAwait(false), ApiJsonContext.Default.ClusterStatusView, json, stdout, StatusText).ConfigureAwait(false),
                    _ => throw new ArgumentException($"unknown command '{words[0]} {words[1]}'"),
                };
            }
            catch (Exception e) when (e is ArgumentException or FormatException)
            {
                await stderr.WriteLineAsync($"vgmesh: {e.Message}\n\n{Help}").ConfigureAwait(false);
                return Usage;
            }
            catch (VgMeshApiException e)
            {
                await stderr.WriteLineAsync($"vgmesh: {e.Problem.Code}: {e.Problem.Detail}").ConfigureAwait(false);
                return Failed;
            }
            catch (HttpRequestException e) when (e.InnerException is SocketException or IOException || e.HttpRequestError == HttpRequestError.ConnectionError)
            {
                await stderr.WriteLineAsync($"vgmesh: cannot reach the agent at {endpoint ?? socket}: {e.Message}. Is vgmeshd running (systemctl status vgmeshd)?").ConfigureAwait(false);
                return Unreachable;
            }
        }
    }

    private static async Task<int> ChangeAsync(Task<OperationView> call, bool json, TextWriter stdout, TextWriter stderr)
    {
        var op = await call.ConfigureAwait(false);
        if (json)
        {
            await stdout.WriteLineAsync(JsonSerializer.Serialize(op, ApiJsonContext.Default.OperationView)).ConfigureAwait(false);
        }
        else
        {
            await stdout.WriteLineAsync($"{op.Message} (operation {op.Id}, revision {op.Revision}, by {op.CompletedBy}; applied by {string.Join(", ", op.AppliedBy)})").ConfigureAwait(false);
        }

        if (op.Lagging.Count > 0)
        {
            await stderr.WriteLineAsync($"vgmesh: not yet applied by {string.Join(", ", op.Lagging)}; 'vgmesh cluster status' shows their lag").ConfigureAwait(false);
            return Lagging;
        }

        return Ok;
    }

    private static bool ActivationFlag(ArgReader a)
    {
        var (exclusive, shared) = (a.Flag("--exclusive"), a.Flag("--shared"));
        return exclusive && shared ? throw new ArgumentException("choose one of --exclusive and --shared") : !shared;
    }

    private static async Task<int> EventsAsync(VgMeshClient client, long? after, bool follow, bool json, TextWriter stdout)
    {
        using var stop = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            stop.Cancel();
        };
        try
        {
            await foreach (var e in client.EventsAsync(after, follow, stop.Token).ConfigureAwait(false))
            {
                await stdout.WriteLineAsync(json ? JsonSerializer.Serialize(e, ApiJsonContext.Default.EventView)
                    : $"{e.Time.ToLocalTime():yyyy-MM-dd HH:mm:ss.fff}  rev {e.Revision,-6} {e.Kind,-20} {e.Subject,-24} by {e.Host}{(e.VgSeqno is { } q ? $"  vg_seqno {q}" : "")}{(e.OperationId is { } id ? $"  op {id}" : "")}").ConfigureAwait(false);
                await stdout.FlushAsync(stop.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Ctrl-C ends a follow.
        }

        return Ok;
    }

    private static async Task<int> PrintAsync<T>(T value, JsonTypeInfo<T> type, bool json, TextWriter stdout, Func<T, string> table)
    {
        await stdout.WriteLineAsync(json ? JsonSerializer.Serialize(value, type) : table(value)).ConfigureAwait(false);
        return Ok;
    }

    private static string LvTable(List<LvView> lvs) => Table(["NAME", "SIZE", "ATTR", "ACTIVE ON", "CLAIM", "ORIGIN", "DATA%"],
        lvs.Select(l => new[] { l.Name, SizeSpec.Format(l.SizeBytes), l.Attr, string.Join(",", l.ActiveOn), l.ClaimMode is null ? "-" : $"{l.ClaimMode}{(l.ClaimedBy is null ? "" : ":" + l.ClaimedBy)}", l.Origin ?? "", l.DataPercent?.ToString("0.0", CultureInfo.InvariantCulture) ?? "" }));

    private static string HostTable(List<HostView> hosts) => Table(["HOST", "ALIVE", "MEMBER", "LEADER", "APPLIED", "LAG", "LAG(s)", "ACTIVE", "ALERTS"],
        hosts.Select(h => new[] { h.Host, h.Alive ? "yes" : "NO", h.MemberStatus ?? "-", h.Leader ? "*" : "", h.AppliedRevision.ToString(CultureInfo.InvariantCulture), h.LagEvents.ToString(CultureInfo.InvariantCulture), h.LagSeconds.ToString("0.0", CultureInfo.InvariantCulture), string.Join(",", h.ActiveLvs), h.Alerts.Count == 0 ? "" : string.Join(" | ", h.Alerts) }));

    private static string StatusText(ClusterStatusView s) =>
        $"cluster {s.Cluster}, volume group {s.VolumeGroup} (vg_seqno {s.VgSeqno}), coordinator: {s.Leader ?? "NONE"}" +
        (s.Leader is null ? "" : $" (lease generation {s.CoordinatorGeneration}, {s.CoordinatorLeaseSeconds:0.0} s left; {s.PendingOperations} pending; last event {s.LastEvent})") +
        "\n" + HostTable([.. s.Hosts]);

    private static string Table(string[] head, IEnumerable<string[]> rows)
    {
        var all = new List<string[]> { head };
        all.AddRange(rows);
        var widths = head.Select((_, i) => all.Max(r => r[i].Length)).ToArray();
        return string.Join('\n', all.Select(r => string.Join("  ", r.Select((c, i) => c.PadRight(widths[i]))).TrimEnd()));
    }
}

/// <summary>A small argument reader: options anywhere, the rest positional.</summary>
internal sealed class ArgReader(string[] argv)
{
    private readonly List<string> _rest = [.. argv];

    public string? Option(string name)
    {
        var i = _rest.IndexOf(name);
        if (i < 0)
        {
            return null;
        }

        if (i + 1 >= _rest.Count)
        {
            throw new ArgumentException($"{name} needs a value");
        }

        var v = _rest[i + 1];
        _rest.RemoveRange(i, 2);
        return v;
    }

    public List<string> Options(string name)
    {
        var values = new List<string>();
        while (Option(name) is { } v)
        {
            values.Add(v);
        }

        return values;
    }

    public string Required(string name) => Option(name) ?? throw new ArgumentException($"{name} is required");

    public bool Flag(string name) => _rest.Remove(name);

    private static readonly HashSet<string> ValueOptions = new(StringComparer.Ordinal) { "--size", "--tag", "--host", "--socket", "--endpoint", "--token-file", "--name", "--chunk-size", "--after" };

    /// <summary>The words that are neither options nor option values.</summary>
    public List<string> Positional()
    {
        var words = new List<string>();
        for (var i = 0; i < _rest.Count; i++)
        {
            if (ValueOptions.Contains(_rest[i]))
            {
                i++;
            }
            else if (!_rest[i].StartsWith("--", StringComparison.Ordinal))
            {
                words.Add(_rest[i]);
            }
        }

        return words;
    }

    public static string Name(List<string> words) => words.Count >= 3 ? words[2] : throw new ArgumentException($"'{string.Join(' ', words)}' needs a volume name");
}
