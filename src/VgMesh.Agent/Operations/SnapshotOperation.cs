using VgMesh.Lvm;
using VgMesh.Lvm.Commands;
using VgMesh.Lvm.Reports;

namespace VgMesh.Agent.Operations;

/// <summary>
/// A classic snapshot, made in the kernel where the origin is active (the one that does the
/// copy-on-write): delegated to its holder, or made here when the origin is active nowhere. A
/// thin volume's snapshot without a size is a thin one, made where its pool is active.
/// </summary>
public sealed class SnapshotOperation(LvmDriver lvm, LocalLvCommand local, Placement placement, AgentOptions options) : IVolumeOperation, IRunsUnderLvmLock
{
    public IReadOnlyCollection<string> Kinds { get; } = [OperationKinds.Snapshot];

    /// <summary>
    /// lvmlockd mode: lvcreate --snapshot takes the origin's LV lock exclusively, so it runs here
    /// where the origin is active (this kernel does the copy-on-write) or active nowhere. An
    /// origin held elsewhere, or shared, goes to the queue: by the claims at once, or after LVM
    /// refused the lock with nothing written.
    /// </summary>
    public Task<OperationDone?> RunHereAsync(LvRef lv, LvOperation args, string operationId, MetadataWritePermit permit, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(args);
        return local.RunAsync(lv, OperationKinds.Snapshot, async activeHere =>
        {
            var (name, source) = await CheckAsync(lv, args, ct).ConfigureAwait(false) ?? throw Taken(lv, args.NewName);
            var seqno = await lvm.CreateSnapshotAsync(lv, name, args.SizeBytes, args.ChunkBytes, args.Tags, permit, ct).ConfigureAwait(false);
            return new OperationDone($"created {Kind(source)} {lv.Vg}/{name} of {lv.FullName} on {options.Host}{(activeHere ? ", where the origin is active" : "")}", "lv.snapshot-created", default, seqno);
        }, ct);
    }

    /// <summary>A thin volume's snapshot without a size is a thin one, in the pool.</summary>
    private static string Kind(LogicalVolume source) => source.IsThin ? "thin snapshot" : "snapshot";

    private static AlreadyExists Taken(LvRef origin, string? name) => new($"{origin.Vg}/{name}", $"{origin.Vg}/{name} already exists; choose another snapshot name.");

    /// <summary>The snapshot's name and its origin once the origin exists, is no snapshot itself and can take a snapshot of that kind; null when an LV of that name exists already.</summary>
    private async Task<(string Name, LogicalVolume Source)?> CheckAsync(LvRef origin, LvOperation args, CancellationToken ct)
    {
        var name = args.NewName ?? throw new BadRequest("a snapshot needs a name");
        var source = await lvm.GetOrNotFoundAsync(origin, ct).ConfigureAwait(false);
        if (await lvm.ExistsAsync(new LvRef(origin.Vg, name), ct).ConfigureAwait(false))
        {
            return null;
        }

        if (source.IsSnapshot)
        {
            throw new BadRequest($"{origin.FullName} is itself a snapshot; snapshot its origin {origin.Vg}/{source.Origin} instead.");
        }

        return args.SizeBytes is null && !source.IsThin
            ? throw new BadRequest($"{origin.FullName} is not a thin volume, so its snapshot {origin.Vg}/{name} needs a copy-on-write size (--size); only a thin volume's snapshot takes its space from the pool.")
            : (name, source);
    }

    public async Task<OperationDone> RunAsync(OperationRun run, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(run);
        var (origin, args) = (run.Lv, run.Args);
        if (await CheckAsync(origin, args, ct).ConfigureAwait(false) is not (var name, var source))
        {
            return run.Recovered ? new OperationDone($"{origin.Vg}/{args.NewName} exists (created before the coordinator changed)", "lv.snapshot-created")
                : throw Taken(origin, args.NewName);
        }

        var holders = args.SizeBytes is null
            ? await placement.PoolHoldersAsync(run.Context, source, ct).ConfigureAwait(false)
            : await placement.ActiveOnAsync(run.Context, origin.Lv, ct).ConfigureAwait(false);
        if (holders.Count > 1)
        {
            throw new LvInUse(holders, args.SizeBytes is null
                ? $"pool {origin.Vg}/{source.PoolLv} of {origin.FullName} is active on {string.Join(", ", holders)}; a thin pool must be active on one host only. Deactivate its volumes on all but one host first."
                : $"{origin.FullName} is active on {string.Join(", ", holders)}; copy-on-write happens in one kernel only, so a snapshot needs the origin active on one host at most. Deactivate it elsewhere first.");
        }

        if (holders is [var holder] && holder != options.Host)
        {
            var ran = await placement.DelegateAsync(run, holder, OperationKinds.Snapshot, args, ct).ConfigureAwait(false);
            return new OperationDone(ran.Message, "lv.snapshot-created", default, ran.VgSeqno);
        }

        // Origin inactive everywhere: LVM creates a classic snapshot inactive too (seen on
        // 2.03.16); a thin one is made inactive whatever its origin.
        var seqno = await lvm.CreateSnapshotAsync(origin, name, args.SizeBytes, args.ChunkBytes, args.Tags, run.Permit, ct).ConfigureAwait(false);
        return new OperationDone($"created {Kind(source)} {origin.Vg}/{name} of {origin.FullName} on {options.Host}", "lv.snapshot-created", default, seqno);
    }
}
