using System.Net.Http.Json;
using VgMesh.Agent.Operations;
using VgMesh.Client;
using VgMesh.Lvm;

namespace VgMesh.Agent.Sync;

/// <summary>
/// <c>GET /v1/usage?template=NAME</c>: every snapshot (a clone of a golden template, or any
/// other) with how much of its copy-on-write space it has used. Only the kernel where a snapshot
/// is active knows that, so the answer asks each holder's agent.
/// </summary>
public sealed class UsageService(LvmDriver lvm, PeerRelay relay, AgentOptions options)
{
    public async Task<List<CloneUsageView>> UsageAsync(string? template, CancellationToken ct)
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

        var clones = lvs.Where(l => l.IsSnapshot && l.Origin is not null && (template is null || l.Origin == template)).ToList();
        var holders = await relay.HoldersAsync(ct).ConfigureAwait(false);
        var remote = new Dictionary<string, List<LvView>>(StringComparer.Ordinal);
        var result = new List<CloneUsageView>();
        foreach (var c in clones.OrderBy(c => c.Name, StringComparer.Ordinal))
        {
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

    private async Task<List<LvView>> ListOnAsync(string host, string? address, CancellationToken ct)
    {
        using var r = await relay.GetAsync(host, address, "/v1/lvs", ct).ConfigureAwait(false);
        return await r.Content.ReadFromJsonAsync(ApiJsonContext.Default.ListLvView, ct).ConfigureAwait(false) ?? [];
    }
}
