using VgMesh.Lvm;
using VgMesh.Lvm.Commands;

namespace VgMesh.Agent.Operations;

/// <summary>A new LV: created zeroed, then left inactive everywhere until a claim activates it.</summary>
public sealed class CreateOperation(LvmDriver lvm, Reconciling.Deactivator deactivator, Reconciling.HostActivity activity) : IVolumeOperation, IRunsUnderLvmLock
{
    public IReadOnlyCollection<string> Kinds { get; } = [OperationKinds.Create];

    public async Task<OperationDone> RunAsync(OperationRun run, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(run);
        var lv = run.Lv;
        // A recovered operation whose LV is already there was done by the previous leader. A new
        // one skips the look-up (one LVM process less): lvcreate itself refuses a taken name.
        if (run.Recovered && await lvm.ExistsAsync(lv, ct).ConfigureAwait(false))
        {
            return new OperationDone($"{lv.FullName} exists (created before the coordinator changed)", "lv.created");
        }

        return await CreateAsync(lv, run.Args, run.Permit, ct).ConfigureAwait(false);
    }

    public async Task<OperationDone?> RunHereAsync(LvRef lv, LvOperation args, string operationId, MetadataWritePermit permit, CancellationToken ct) =>
        await CreateAsync(lv, args, permit, ct).ConfigureAwait(false);

    private async Task<OperationDone> CreateAsync(LvRef lv, LvOperation args, MetadataWritePermit permit, CancellationToken ct)
    {
        // Created active so LVM wipes signatures and zeroes its start (old data of freed extents
        // must not leak), then released before the result is recorded: activation is a claim's
        // business, and no claim can be made while the LV is still active here. (Releasing it
        // beside the next operations was tried: no faster in the lab, and it opened a moment in
        // which a next coordinator could claim an LV still active on this host.)
        using var own = activity.Own(); // the new LV's device comes and goes: not a change by hand
        var seqno = await lvm.CreateLvAsync(new CreateLvRequest(lv, args.SizeBytes!.Value, args.Tags), permit, ct).ConfigureAwait(false);
        await deactivator.DeactivateAsync(lv, ct).ConfigureAwait(false); // a new LV: one device straight on the PVs
        return new OperationDone($"created {lv.FullName}", "lv.created", default, seqno);
    }
}
