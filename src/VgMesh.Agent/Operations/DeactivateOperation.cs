using System.Collections.Immutable;
using VgMesh.Cluster;
using VgMesh.Agent.Reconciling;
using VgMesh.Lvm;

namespace VgMesh.Agent.Operations;

/// <summary>
/// Releases an LV: one host leaves a shared claim, or every host lets it go. The claim stays,
/// with no host, so the LV stays managed (every host keeps it inactive).
/// </summary>
public sealed class DeactivateOperation(LvmDriver lvm, OnDiskMetadata disk, AgentOptions options) : IVolumeOperation
{
    public IReadOnlyCollection<string> Kinds { get; } = [OperationKinds.Deactivate];

    public async Task<OperationDone> RunAsync(OperationRun run, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(run);
        var lv = run.Lv;
        var seqno = await disk.SeqnoWithAsync(lvm, lv, ct).ConfigureAwait(false);
        run.Permit.EnsureValid();
        var current = run.Context.Claims.GetValueOrDefault(lv.Lv);
        if (run.Args.Host is { } host && current is { Mode: ClaimMode.Shared } && current.Hosts.Count > 1)
        {
            // One host leaves a shared claim; the others keep the LV.
            var rest = current.Hosts.Remove(host);
            return new OperationDone($"{lv.FullName} released by {host}, still shared by {string.Join(", ", rest)}", "lv.released",
                current.Hosts.Contains(host) ? [ClaimChange.Release(lv.Lv, host)] : [], seqno);
        }

        if (run.Args.Host is { } named && current is not null && !current.Hosts.Contains(named))
        {
            // Asked of one host that does not hold it: the hosts that do keep it (a retry after
            // success lands here too, and changes nothing).
            return new OperationDone($"{lv.FullName} is not claimed by {named}; nothing released", "lv.released", [], seqno);
        }

        ImmutableArray<ClaimChange> changes = current is null
            ? [ClaimChange.Grant(lv.Lv, options.Host, ClaimMode.Shared), ClaimChange.Release(lv.Lv, options.Host)]
            : [.. current.Hosts.Select(h => ClaimChange.Release(lv.Lv, h))];
        return new OperationDone($"{lv.FullName} released everywhere", "lv.released", changes, seqno);
    }
}
