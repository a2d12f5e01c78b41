using System.Collections.Immutable;
using VgMesh.Cluster;
using VgMesh.Lvm;

namespace VgMesh.Agent.Operations;

/// <summary>Renames an LV that is active nowhere; its claim moves with it.</summary>
public sealed class RenameOperation(LvmDriver lvm, Placement placement) : IVolumeOperation
{
    public IReadOnlyCollection<string> Kinds { get; } = [OperationKinds.Rename];

    public async Task<OperationDone> RunAsync(OperationRun run, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(run);
        var lv = run.Lv;
        var to = new LvRef(lv.Vg, run.Args.NewName ?? throw new BadRequest("rename needs a new name"));
        ImmutableArray<ClaimChange> moveClaim = run.Context.Claims.ContainsKey(lv.Lv) ? [ClaimChange.Move(lv.Lv, to.Lv)] : [];
        var fromExists = await lvm.ExistsAsync(lv, ct).ConfigureAwait(false);
        if (!fromExists && run.Recovered && await lvm.ExistsAsync(to, ct).ConfigureAwait(false))
        {
            return new OperationDone($"{lv.FullName} is already {to.FullName} (renamed before the coordinator changed)", "lv.renamed", moveClaim);
        }

        if (!fromExists)
        {
            throw new LvNotFound(lv.FullName);
        }

        if (await lvm.ExistsAsync(to, ct).ConfigureAwait(false))
        {
            throw new AlreadyExists(to.FullName, $"{to.FullName} already exists; choose another name.");
        }

        // Every host names its device after the LV: a rename under an active device would leave
        // it under the old name there. Inactive everywhere, nothing is stale.
        var holders = await placement.ActiveOnAsync(run.Context, lv.Lv, ct).ConfigureAwait(false);
        if (holders.Count > 0)
        {
            throw new LvInUse(holders, $"{lv.FullName} is active; deactivate it everywhere before renaming (vgmesh lv deactivate {lv.Lv}).");
        }

        var seqno = await lvm.RenameLvAsync(lv, to.Lv, run.Permit, ct).ConfigureAwait(false);
        return new OperationDone($"renamed {lv.FullName} to {to.FullName}", "lv.renamed", moveClaim, seqno);
    }
}
