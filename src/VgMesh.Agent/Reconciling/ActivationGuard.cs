namespace VgMesh.Agent.Reconciling;

/// <summary>
/// What this host last reported about itself, and the guard every activation passes: the host
/// first counts the LV as active in its own report (so every later report says so), then asks
/// the coordinator, which answers yes only if the claim is still this host's and (exclusive) no
/// other host reports the LV, and from then on counts it as announced here. The coordinator
/// answers one question at a time, so of two hosts that ask for the same LV around a handoff,
/// the second sees the first one's announcement and waits: never active on two hosts.
/// </summary>
public sealed class ActivationGuard(AgentCluster cluster, ClaimCache claims, AgentOptions options, TimeProvider time) : IDisposable
{
    private readonly Lock _gate = new();

    // Reports leave in the order the state changed: a republish (on its own thread, when a new
    // coordinator asks) that read the state before a pass's publish and sent after it would
    // leave the coordinator with the older report, an LV active here missing from it.
    private readonly SemaphoreSlim _sending = new(1, 1);
    private HostStatus _current = new([], [], 0, DateTimeOffset.MinValue, ApiAddress: options.TcpListen);

    public HostStatus Current
    {
        get
        {
            lock (_gate)
            {
                return _current;
            }
        }
    }

    public Task PublishAsync(HostStatus status, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(status);
        return SendAsync(_ => status, ct);
    }

    /// <summary>
    /// Sends the current report again (a new coordinator asks for it), once a pass has made one:
    /// before that, this host does not know what it has active, and says nothing (the coordinator
    /// lets no exclusive activation through until it has heard from every live host).
    /// </summary>
    public Task RepublishAsync(CancellationToken ct) => SendAsync(now => now.At == DateTimeOffset.MinValue ? null : now, ct);

    /// <summary>Reports an activation done outside a pass (a pass reports what device-mapper shows).</summary>
    public Task ActivatedAsync(string lv, CancellationToken ct) =>
        SendAsync(now => now with { Active = [.. now.Active.Where(a => a.Name != lv), new ActiveLv(lv, 0)], At = time.GetUtcNow() }, ct);

    /// <summary>Makes the next status from the current one and sends it, one send at a time.</summary>
    private async Task SendAsync(Func<HostStatus, HostStatus?> next, CancellationToken ct)
    {
        await _sending.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            HostStatus? status;
            lock (_gate)
            {
                status = next(_current) is { } made ? made with { ApiAddress = options.TcpListen } : null;
                if (status is null)
                {
                    return;
                }

                _current = status;
            }

            await cluster.ReportAsync(status.ToReport(options.Host), ct).ConfigureAwait(false);
        }
        finally
        {
            _sending.Release();
        }
    }

    /// <returns>Null when the LV may be activated now; otherwise why not.</returns>
    public async Task<string?> CheckAsync(string lv, bool exclusive, CancellationToken ct)
    {
        lock (_gate)
        {
            if (_current.Active.All(a => a.Name != lv))
            {
                _current = _current with { Active = [.. _current.Active, new ActiveLv(lv, 0, Announced: true)], At = time.GetUtcNow() };
            }
        }

        var verdict = await cluster.CheckActivationAsync(lv, exclusive, ct).ConfigureAwait(false);
        if (verdict.Claim is { } claim)
        {
            claims.Record(lv, ActivationClaim.From(claim));
        }

        return verdict.Refusal;
    }

    public void Dispose() => _sending.Dispose();
}
