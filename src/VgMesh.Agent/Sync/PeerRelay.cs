using Microsoft.AspNetCore.Http;
using VgMesh.Agent.Operations;
using VgMesh.Agent.Reconciling;
using VgMesh.Sync;

namespace VgMesh.Agent.Sync;

/// <summary>
/// Reads that must run where an LV is active (a delta, a backup, a clone's usage) are asked of
/// that host's agent and relayed: the holder comes from the hosts' reports to the coordinator.
/// </summary>
public sealed class PeerRelay(AgentCluster cluster, PeerClient peers, AgentOptions options)
{
    /// <summary>Where the LV is active, other than here, as the hosts' reports say (each host with its TCP API address).</summary>
    public async Task<Dictionary<string, (string Host, string? Address)>> HoldersAsync(CancellationToken ct)
    {
        var holders = new Dictionary<string, (string, string?)>(StringComparer.Ordinal);
        foreach (var (host, status) in StateReader.Statuses(await cluster.StatusAsync(ct).ConfigureAwait(false)).Where(s => s.Key != options.Host))
        {
            foreach (var lv in status.Active)
            {
                holders.TryAdd(lv.Name, (host, status.ApiAddress));
            }
        }

        return holders;
    }

    /// <summary>Where <paramref name="lv"/> is active other than here, or where <paramref name="withLv"/> is (a classic snapshot's origin: a host's report made before the snapshot does not list it yet); null: nowhere else.</summary>
    public async Task<(string Host, string? Address)?> HolderAsync(string lv, string? withLv, CancellationToken ct)
    {
        var holders = await HoldersAsync(ct).ConfigureAwait(false);
        return holders.TryGetValue(lv, out var h) || (withLv is not null && holders.TryGetValue(withLv, out h)) ? h : null;
    }

    /// <summary>Streams the holder's answer to <paramref name="http"/>, with its content headers and <paramref name="headers"/>; a break midway cuts this connection too.</summary>
    /// <param name="withLv">An LV active wherever <paramref name="lv"/> is (a classic snapshot's origin): a host's report made before the snapshot does not list it yet.</param>
    public async Task RelayAsync(HttpContext http, string lv, string? withLv, HttpMethod method, string pathAndQuery, string notActive, IReadOnlyList<string> headers, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(headers);
        var holder = await HolderAsync(lv, withLv, ct).ConfigureAwait(false) ?? throw new SyncException("not-active", notActive);

        using var r = await peers.SendStreamAsync(holder.Host, holder.Address, method, pathAndQuery, ct).ConfigureAwait(false);
        http.Response.ContentType = r.Content.Headers.ContentType?.ToString();
        http.Response.ContentLength = r.Content.Headers.ContentLength;
        http.Response.Headers["X-Vgmesh-Host"] = holder.Host;
        foreach (var name in headers)
        {
            if (r.Headers.TryGetValues(name, out var values))
            {
                http.Response.Headers[name] = values.First();
            }
        }

        try
        {
            await r.Content.CopyToAsync(http.Response.Body, ct).ConfigureAwait(false);
        }
        catch (Exception) when (http.Response.HasStarted)
        {
            http.Abort();
            throw;
        }
    }

    /// <summary>A GET of JSON on the holder's agent.</summary>
    public async Task<HttpResponseMessage> GetAsync(string host, string? address, string pathAndQuery, CancellationToken ct) =>
        await peers.SendStreamAsync(host, address, HttpMethod.Get, pathAndQuery, ct).ConfigureAwait(false);
}
