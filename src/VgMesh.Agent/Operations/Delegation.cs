using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using VgMesh.Client;
using VgMesh.Coordination;
using VgMesh.Lvm.Commands;

namespace VgMesh.Agent.Operations;

/// <summary>
/// The permit on the host a coordinator delegated a step to: the coordinator's fencing token,
/// checked against the store (leader key and its lease) right before the command. It holds only
/// while the coordinator's lease is certain to keep at least a third of the TTL, the same margin
/// the coordinator demands of itself; after that, no other coordinator can have been elected yet.
/// </summary>
public sealed class DelegatedPermit : MetadataWritePermit
{
    private readonly string _coordinator;
    private readonly long _token;
    private readonly TimeProvider _time;
    private readonly DateTimeOffset _validUntil;

    private DelegatedPermit(string coordinator, long token, TimeProvider time, DateTimeOffset validUntil)
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
        if (_time.GetUtcNow() >= _validUntil)
        {
            throw new NotLeaderException(null, $"the delegation from {_coordinator} (token {_token}) is older than its safe margin");
        }
    }

    /// <summary>Checks the step's coordinator against the store; throws <see cref="NotLeaderException"/> when it no longer leads.</summary>
    public static async Task<DelegatedPermit> VerifyAsync(ICoordinator coordinator, DelegatedStep step, TimeSpan margin, TimeProvider time, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(coordinator);
        ArgumentNullException.ThrowIfNull(step);
        var started = time.GetUtcNow();
        var lease = await coordinator.LeaderLeaseAsync(ct).ConfigureAwait(false);
        if (lease is null || lease.Host != step.Coordinator || lease.FencingToken != step.FencingToken)
        {
            throw new NotLeaderException(lease?.Host, $"{step.Coordinator} with token {step.FencingToken} asked, but the store says {lease?.Host ?? "nobody"} leads with token {lease?.FencingToken ?? 0}");
        }

        var left = lease.TimeLeft == Timeout.InfiniteTimeSpan ? TimeSpan.FromDays(1) : lease.TimeLeft;
        if (left < margin)
        {
            throw new NotLeaderException(lease.Host, $"the coordinator's lease has only {left.TotalSeconds:0.0} s left");
        }

        // Measured from before the read: the lease cannot have had more left than etcd said then.
        return new DelegatedPermit(step.Coordinator, step.FencingToken, time, started + left - margin);
    }
}

/// <summary>Sends a delegated step to a peer agent over its TCP API, with the cluster's bearer token.</summary>
public sealed class PeerClient(AgentOptions options) : IDisposable
{
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromMinutes(2) };
    private readonly string? _token = options.TokenFile is { } f && File.Exists(f) ? File.ReadAllText(f).Trim() : null;

    public async Task<StepResult> RunAsync(MemberInfo peer, DelegatedStep step, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(peer);
        var address = peer.Addresses.Count > 0 ? peer.Addresses[0] : null;
        if (address is null || _token is null)
        {
            throw new OperationFailedException("cannot-delegate",
                $"{step.Args.Lv} is active on {peer.Host}, where this change must run, but {(address is null ? $"{peer.Host} has no TCP API address (TcpListen)" : "this agent has no cluster token (TokenFile)")}; configure it, or deactivate the LV first.");
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
        throw new OperationFailedException(problem?.Code ?? "failed", $"on {peer.Host}: {problem?.Detail ?? $"answered {(int)r.StatusCode}"}");
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
