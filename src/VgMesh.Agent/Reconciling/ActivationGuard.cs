using System.Text.Json;

namespace VgMesh.Agent.Reconciling;

/// <summary>
/// What this host last published about itself (<c>status/HOST</c>), and the guard every
/// activation passes: the host first announces the LV as active, then re-reads the claim and
/// the other hosts' reports, and activates only if the claim is still its own and (exclusive)
/// no other host reports the LV. A host that is handed the claim next reads the reports after
/// the claim moved, so either it sees the announcement and waits, or this host's re-read sees the
/// claim gone and does not activate: never active on two hosts, even when claims move during a pass.
/// </summary>
public sealed class ActivationGuard(ClusterRuntime runtime, ClaimCache claims, AgentOptions options, TimeProvider time)
{
    private readonly Lock _gate = new();
    private HostStatus _current = new([], [], 0, DateTimeOffset.MinValue);

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

    public async Task PublishAsync(HostStatus status, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(status);
        lock (_gate)
        {
            _current = status;
        }

        await runtime.Node.Catalog.PublishOwnAsync(CatalogKeys.StatusOf(options.Host), JsonSerializer.Serialize(status, AgentJsonContext.Default.HostStatus), ct).ConfigureAwait(false);
    }

    /// <summary>Reports an activation done outside a pass (a pass reports what device-mapper shows).</summary>
    public Task ActivatedAsync(string lv, CancellationToken ct)
    {
        var now = Current;
        return PublishAsync(now with { Active = [.. now.Active.Where(a => a.Name != lv), new ActiveLv(lv, 0)], At = time.GetUtcNow() }, ct);
    }

    /// <returns>Null when the LV may be activated now; otherwise why not.</returns>
    public async Task<string?> CheckAsync(string lv, bool exclusive, CancellationToken ct)
    {
        var now = Current;
        if (now.Active.All(a => a.Name != lv))
        {
            await PublishAsync(now with { Active = [.. now.Active, new ActiveLv(lv, 0, Announced: true)], At = time.GetUtcNow() }, ct).ConfigureAwait(false);
        }

        var catalog = runtime.Node.Catalog;
        var claimJson = await catalog.GetAsync(CatalogKeys.Claim(lv), ct).ConfigureAwait(false);
        var claim = claimJson is null ? null : JsonSerializer.Deserialize(claimJson, AgentJsonContext.Default.ActivationClaim);
        if (claim is null || !claim.Holders.Contains(options.Host))
        {
            return $"the claim of {lv} moved to {claim?.Host ?? "nobody"} meanwhile";
        }

        claims.Record(lv, claim);

        if (exclusive)
        {
            var others = (await StateReader.StatusesAsync(catalog, ct).ConfigureAwait(false))
                .Where(s => s.Key != options.Host && s.Value.Active.Any(a => a.Name == lv)).Select(s => s.Key).ToList();
            if (others.Count > 0)
            {
                return $"{string.Join(", ", others)} still report {lv} active";
            }
        }

        return null;
    }
}
