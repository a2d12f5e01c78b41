using VgMesh.Lvm;

namespace VgMesh.Agent.Operations;

/// <summary>Merges a snapshot back into its origin, in the kernel where the origin is active (or here, deferred by LVM until its next activation).</summary>
public sealed class MergeOperation(LvmDriver lvm, Placement placement, AgentOptions options) : IVolumeOperation
{
    public IReadOnlyCollection<string> Kinds { get; } = [OperationKinds.Merge];

    public async Task<OperationDone> RunAsync(OperationRun run, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(run);
        var snapshot = run.Lv;
        if (await lvm.GetOrGoneAsync(snapshot, run.Recovered, ct).ConfigureAwait(false) is not { } snap)
        {
            return new OperationDone($"{snapshot.FullName} is gone (merged before the coordinator changed)", "lv.merging");
        }

        if (!snap.IsSnapshot || snap.Origin is null)
        {
            throw new BadRequest($"{snapshot.FullName} is not a snapshot; only a snapshot can be merged into its origin.");
        }

        var holders = await placement.ActiveOnAsync(run.Context, snap.Origin, ct).ConfigureAwait(false);
        if (holders.Count > 1)
        {
            throw new LvInUse(holders, $"the origin {snapshot.Vg}/{snap.Origin} is active on several hosts; deactivate it on all but one first.");
        }

        if (holders is [var holder] && holder != options.Host)
        {
            var ran = await placement.DelegateAsync(run, holder, OperationKinds.Merge, new LvOperation(snapshot.Lv), ct).ConfigureAwait(false);
            return new OperationDone(ran.Message, "lv.merging", default, ran.VgSeqno);
        }

        var seqno = await lvm.MergeSnapshotAsync(snapshot, run.Permit, ct).ConfigureAwait(false);
        return new OperationDone($"merging {snapshot.FullName} into {snapshot.Vg}/{snap.Origin} on {options.Host}{(holders.Count == 0 ? " (completes when the origin is next activated)" : "")}", "lv.merging", default, seqno);
    }
}
