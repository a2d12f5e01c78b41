using VgMesh.Lvm;

namespace VgMesh.Agent.Operations;

/// <summary>
/// A classic snapshot, made in the kernel where the origin is active (the one that does the
/// copy-on-write): delegated to its holder, or made here when the origin is active nowhere.
/// </summary>
public sealed class SnapshotOperation(LvmDriver lvm, Placement placement, AgentOptions options) : IVolumeOperation
{
    public IReadOnlyCollection<string> Kinds { get; } = [OperationKinds.Snapshot];

    public async Task<OperationDone> RunAsync(OperationRun run, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(run);
        var (origin, args) = (run.Lv, run.Args);
        var name = args.NewName ?? throw new BadRequest("a snapshot needs a name");
        var source = await lvm.GetOrNotFoundAsync(origin, ct).ConfigureAwait(false);
        if (await lvm.ExistsAsync(new LvRef(origin.Vg, name), ct).ConfigureAwait(false))
        {
            return run.Recovered ? new OperationDone($"{origin.Vg}/{name} exists (created before the coordinator changed)", "lv.snapshot-created")
                : throw new AlreadyExists($"{origin.Vg}/{name}", $"{origin.Vg}/{name} already exists; choose another snapshot name.");
        }

        if (source.IsSnapshot)
        {
            throw new BadRequest($"{origin.FullName} is itself a snapshot; snapshot its origin {origin.Vg}/{source.Origin} instead.");
        }

        var holders = await placement.ActiveOnAsync(run.Context, origin.Lv, ct).ConfigureAwait(false);
        if (holders.Count > 1)
        {
            throw new LvInUse(holders, $"{origin.FullName} is active on {string.Join(", ", holders)}; copy-on-write happens in one kernel only, so a snapshot needs the origin active on one host at most. Deactivate it elsewhere first.");
        }

        if (holders is [var holder] && holder != options.Host)
        {
            var ran = await placement.DelegateAsync(run, holder, OperationKinds.Snapshot, args, ct).ConfigureAwait(false);
            return new OperationDone(ran.Message, "lv.snapshot-created", default, ran.VgSeqno);
        }

        // Origin inactive everywhere: LVM creates the snapshot inactive too (seen on 2.03.16).
        var seqno = await lvm.CreateSnapshotAsync(origin, name, args.SizeBytes!.Value, args.ChunkBytes, args.Tags, run.Permit, ct).ConfigureAwait(false);
        return new OperationDone($"created snapshot {origin.Vg}/{name} of {origin.FullName} on {options.Host}", "lv.snapshot-created", default, seqno);
    }
}
