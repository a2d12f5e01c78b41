using VgMesh.Lvm;
using VgMesh.Lvm.Commands;

namespace VgMesh.Agent.Operations;

/// <summary>
/// Puts tags on an LV and takes others off: metadata only, so it runs here wherever the LV is
/// active (no table changes; every host's view follows from the metadata).
/// </summary>
public sealed class TagOperation(LvmDriver lvm) : IVolumeOperation, IRunsUnderLvmLock
{
    public IReadOnlyCollection<string> Kinds { get; } = [OperationKinds.Tag];

    public async Task<OperationDone> RunAsync(OperationRun run, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(run);
        return await TagAsync(run.Lv, run.Args, run.Permit, ct).ConfigureAwait(false);
    }

    public async Task<OperationDone?> RunHereAsync(LvRef lv, LvOperation args, string operationId, MetadataWritePermit permit, CancellationToken ct) =>
        await TagAsync(lv, args, permit, ct).ConfigureAwait(false);

    private async Task<OperationDone> TagAsync(LvRef lv, LvOperation args, MetadataWritePermit permit, CancellationToken ct)
    {
        var current = await lvm.GetOrNotFoundAsync(lv, ct).ConfigureAwait(false);
        // Only what changes is written: LVM refuses to add a tag that is there or drop one that is not.
        var add = (args.Tags ?? []).Where(t => !current.Tags.Contains(t)).Distinct(StringComparer.Ordinal).ToList();
        var remove = (args.Untags ?? []).Where(current.Tags.Contains).Distinct(StringComparer.Ordinal).ToList();
        if (add.Count == 0 && remove.Count == 0)
        {
            return new OperationDone($"{lv.FullName} already has those tags", "lv.tagged");
        }

        var seqno = await lvm.ChangeTagsAsync(lv, add, remove, permit, ct).ConfigureAwait(false);
        return new OperationDone($"tagged {lv.FullName}: {string.Join(", ", add.Select(t => "+" + t).Concat(remove.Select(t => "-" + t)))}", "lv.tagged", default, seqno);
    }
}
