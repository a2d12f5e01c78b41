using System.Net.Http.Json;
using VgMesh.Agent.Operations;
using VgMesh.Client;
using VgMesh.Lvm;
using VgMesh.Lvm.DeviceMapper;
using VgMesh.Lvm.Reports;
using VgMesh.Sync;

namespace VgMesh.Agent.Sync;

/// <summary>
/// <c>GET /v1/usage?template=NAME</c>: every snapshot (a clone of a golden template, or any
/// other) with how far it has diverged. A classic snapshot's figure is the copy-on-write space
/// it has used, which only the kernel where it is active knows; a thin snapshot's is what its
/// pool maps differently from its origin (<c>thin_delta</c>), which only the host where the
/// pool is active can read. Either way the answer asks that host's agent.
/// </summary>
public sealed class UsageService(LvmDriver lvm, ThinPools thin, DmSetup dm, PeerRelay relay, AgentOptions options)
{
    /// <param name="here">Asked by a peer: answer from this host alone, never relay (no loops).</param>
    public async Task<List<CloneUsageView>> UsageAsync(string? template, bool here, CancellationToken ct)
    {
        if (template is not null)
        {
            LvmNames.ValidateLv(template);
        }

        var lvs = await lvm.ListLvsAsync(options.VolumeGroup, ct).ConfigureAwait(false);
        if (template is not null && lvs.All(l => l.Name != template))
        {
            throw new LvNotFound($"{options.VolumeGroup}/{template}");
        }

        var clones = lvs.Where(l => (l.IsSnapshot || DeltaService.IsThinSnapshot(l)) && l.Origin is not null && (template is null || l.Origin == template)).ToList();
        var holders = here ? [] : await relay.HoldersAsync(ct).ConfigureAwait(false);
        var remote = new Dictionary<string, List<LvView>>(StringComparer.Ordinal);
        var remoteThin = new Dictionary<string, List<CloneUsageView>>(StringComparer.Ordinal);
        var result = new List<CloneUsageView>();
        foreach (var c in clones.OrderBy(c => c.Name, StringComparer.Ordinal))
        {
            if (DeltaService.IsThinSnapshot(c))
            {
                result.Add(await ThinUsageAsync(c, lvs, holders, remoteThin, ct).ConfigureAwait(false));
                continue;
            }

            double? percent = c.ActiveLocally ? c.DataPercent : null;
            var on = c.ActiveLocally ? options.Host : null;
            if (!c.ActiveLocally && holders.TryGetValue(c.Name, out var holder))
            {
                on = holder.Host;
                if (!remote.TryGetValue(holder.Host, out var theirs))
                {
                    theirs = remote[holder.Host] = await ListOnAsync(holder.Host, holder.Address, ct).ConfigureAwait(false);
                }

                percent = theirs.FirstOrDefault(l => l.Name == c.Name)?.DataPercent;
            }

            result.Add(new CloneUsageView(c.Name, c.Origin!, c.SizeBytes, percent is { } p ? (long)(c.SizeBytes * p / 100) : null, percent, on));
        }

        return result;
    }

    /// <summary>
    /// A thin clone: the bytes its pool maps differently from its origin (written, or discarded,
    /// since the snapshot), against its virtual size. Read here when the pool is active here,
    /// else asked of the host where one of the pool's volumes is active; unknown (null) when the
    /// pool is active nowhere. ActiveOn names the pool's host: a thin clone itself is often
    /// inactive.
    /// </summary>
    private async Task<CloneUsageView> ThinUsageAsync(LogicalVolume clone, IReadOnlyList<LogicalVolume> lvs, Dictionary<string, (string Host, string? Address)> holders,
        Dictionary<string, List<CloneUsageView>> remote, CancellationToken ct)
    {
        var pool = clone.PoolLv!;
        if (await dm.ExistsAsync(LvRef.DmNameOf(clone.VgName, pool) + "-tpool", ct).ConfigureAwait(false))
        {
            var origin = lvs.First(l => l.Name == clone.Origin);
            var ids = await lvm.ThinIdsAsync(clone.VgName, [clone.Name, origin.Name], ct).ConfigureAwait(false);
            if (ids.TryGetValue(clone.Name, out var left) && ids.TryGetValue(origin.Name, out var right))
            {
                var report = await thin.DeltaAsync(clone.VgName, pool, left, right, ct).ConfigureAwait(false);
                var changed = ThinDeltaReport.Read(new StringReader(report), left, right, Math.Max(origin.SizeBytes, clone.SizeBytes));
                var bytes = Math.Min(changed.Count * changed.ChunkBytes, clone.SizeBytes);
                return new CloneUsageView(clone.Name, clone.Origin!, clone.SizeBytes, bytes, clone.SizeBytes == 0 ? 0 : 100.0 * bytes / clone.SizeBytes, options.Host);
            }
        }
        else if (lvs.Where(l => l.Name == pool || l.PoolLv == pool).Select(l => holders.TryGetValue(l.Name, out var h) ? h : default((string Host, string? Address)?)).FirstOrDefault(h => h is not null) is { } holder)
        {
            if (!remote.TryGetValue(holder.Host, out var theirs))
            {
                theirs = remote[holder.Host] = await UsageOnAsync(holder.Host, holder.Address, clone.Origin!, ct).ConfigureAwait(false);
            }

            if (theirs.FirstOrDefault(u => u.Name == clone.Name) is { } known)
            {
                return known;
            }
        }

        return new CloneUsageView(clone.Name, clone.Origin!, clone.SizeBytes, null, null, null);
    }

    private async Task<List<LvView>> ListOnAsync(string host, string? address, CancellationToken ct)
    {
        using var r = await relay.GetAsync(host, address, "/v1/lvs", ct).ConfigureAwait(false);
        return await r.Content.ReadFromJsonAsync(ApiJsonContext.Default.ListLvView, ct).ConfigureAwait(false) ?? [];
    }

    private async Task<List<CloneUsageView>> UsageOnAsync(string host, string? address, string template, CancellationToken ct)
    {
        using var r = await relay.GetAsync(host, address, $"/v1/usage?template={Uri.EscapeDataString(template)}&here=true", ct).ConfigureAwait(false);
        return await r.Content.ReadFromJsonAsync(ApiJsonContext.Default.ListCloneUsageView, ct).ConfigureAwait(false) ?? [];
    }
}
