using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using VgMesh.Client;
using VgMesh.Lvm.Commands;

namespace VgMesh.Agent.Operations;

/// <summary>
/// The permit on the host a coordinator delegated a step to: the coordinator's lease owner and
/// generation, checked against the lease's row in the database right before the command. It
/// holds only while the row says the lease has more than the safety margin left, the same
/// margin the coordinator demands of itself; until then no other coordinator can have started.
/// </summary>
public sealed class DelegatedPermit : MetadataWritePermit
{
    private readonly string _coordinator;
    private readonly long _token;
    private readonly TimeProvider _time;
    private readonly long _validUntil;

    private DelegatedPermit(string coordinator, long token, TimeProvider time, long validUntil)
    {
        _coordinator = coordinator;
        _token = token;
        _time = time;
        _validUntil = validUntil;
    }

    public override string Holder => _coordinator;

    public override long FencingToken => _token;

    public override void EnsureValid()
    {
        if (_time.GetTimestamp() >= _validUntil)
        {
            throw new NotCoordinator($"the delegation from {_coordinator} (lease generation {_token}) is older than its safe margin; the coordinator retries it.");
        }
    }

    /// <summary>Checks the step's coordinator against the lease row; refuses (<see cref="NotCoordinator"/>) when it no longer holds that lease.</summary>
    public static async Task<DelegatedPermit> VerifyAsync(AgentCluster cluster, DelegatedStep step, TimeProvider time, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        ArgumentNullException.ThrowIfNull(step);
        var started = time.GetTimestamp();
        var row = await cluster.CoordinatorLeaseAsync(ct).ConfigureAwait(false);
        if (row is null || row.Owner != step.LeaseOwner || row.Generation != step.FencingToken)
        {
            throw new NotCoordinator($"{step.Coordinator} asked under lease generation {step.FencingToken}, but the lease row says generation {row?.Generation ?? 0} held by {row?.Owner ?? "nobody"}; nothing was run.");
        }

        var margin = cluster.LeaseMargin;
        if (row.Remaining < margin)
        {
            throw new NotCoordinator($"the coordinator's lease has only {row.Remaining.TotalSeconds:0.0} s left; nothing was run.");
        }

        // Counted from before the read: the lease cannot have had more left than the row said then.
        var until = started + (long)((row.Remaining - margin).TotalSeconds * time.TimestampFrequency);
        return new DelegatedPermit(step.Coordinator, step.FencingToken, time, until);
    }
}

/// <summary>Sends a delegated step to a peer agent over its TCP API, with the cluster's bearer token.</summary>
public sealed class PeerClient(AgentOptions options) : IDisposable
{
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromMinutes(2) };
    private readonly string? _token = options.TokenFile is { } f && File.Exists(f) ? File.ReadAllText(f).Trim() : null;

    public async Task<StepResult> RunAsync(string host, string? address, DelegatedStep step, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(step);
        if (address is null || _token is null)
        {
            throw new CannotDelegate(
                $"{step.Args.Lv} is active on {host}, where this change must run, but {(address is null ? $"{host} has no TCP API address (TcpListen)" : "this agent has no cluster token (TokenFile)")}; configure it, or deactivate the LV first.");
        }

        using var msg = new HttpRequestMessage(HttpMethod.Post, new Uri($"http://{address}/v1/internal/steps"))
        {
            Content = JsonContent.Create(step, AgentJsonContext.Default.DelegatedStep),
        };
        msg.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _token);
        using var r = await _http.SendAsync(msg, ct).ConfigureAwait(false);
        if (r.IsSuccessStatusCode)
        {
            return (await r.Content.ReadFromJsonAsync(AgentJsonContext.Default.StepResult, ct).ConfigureAwait(false))!;
        }

        var problem = r.Content.Headers.ContentType?.MediaType == "application/problem+json"
            ? await r.Content.ReadFromJsonAsync(ApiJsonContext.Default.Problem, ct).ConfigureAwait(false) : null;
        throw VolumeException.FromCode(problem?.Code ?? "failed", problem?.Detail is { } detail ? $"on {host}: {detail}" : $"on {host}: answered {(int)r.StatusCode}");
    }

    /// <summary>
    /// A streamed call on a peer's API (a delta or a backup read where the LV is active). Only
    /// the headers are bounded by the client's timeout; the body streams for as long as it takes.
    /// </summary>
    public async Task<HttpResponseMessage> SendStreamAsync(string host, string? address, HttpMethod method, string pathAndQuery, CancellationToken ct)
    {
        if (address is null || _token is null)
        {
            throw new CannotDelegate($"this must run on {host}, but {(address is null ? $"{host} has no TCP API address (TcpListen)" : "this agent has no cluster token (TokenFile)")}; run it on {host} instead.");
        }

        using var msg = new HttpRequestMessage(method, new Uri($"http://{address}{pathAndQuery}"));
        msg.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _token);
        var r = await _http.SendAsync(msg, HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
        if (r.IsSuccessStatusCode)
        {
            return r;
        }

        using (r)
        {
            var problem = r.Content.Headers.ContentType?.MediaType == "application/problem+json"
                ? await r.Content.ReadFromJsonAsync(ApiJsonContext.Default.Problem, ct).ConfigureAwait(false) : null;
            throw VolumeException.FromCode(problem?.Code ?? "failed", problem?.Detail is { } detail ? $"on {host}: {detail}" : $"on {host}: answered {(int)r.StatusCode}");
        }
    }

    public static DelegatedStep Parse(string json) => JsonSerializer.Deserialize(json, AgentJsonContext.Default.DelegatedStep)
        ?? throw new ArgumentException("empty delegated step");

    public void Dispose() => _http.Dispose();
}

/// <summary>
/// Operations whose command this host ran for a coordinator: LVM reloaded this host's tables in
/// that command, so their events ask nothing more of this host.
/// </summary>
public sealed class LocalSteps
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte> _ids = new(StringComparer.Ordinal);

    public void Ran(string operationId)
    {
        // A handful are in flight at most; the bound keeps a long-lived agent from growing.
        if (_ids.Count > 1000)
        {
            _ids.Clear();
        }

        _ids[operationId] = 0;
    }

    /// <summary>True once per operation this host ran.</summary>
    public bool TakeRanHere(string? operationId) => operationId is not null && _ids.TryRemove(operationId, out _);
}
