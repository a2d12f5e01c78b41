using VgMesh.Agent.Lls;
using VgMesh.Lvm;

namespace VgMesh.Agent.Operations;

/// <summary>
/// Sets or clears limits of a container's quota in the VG's tags. Run by the coordinator, so it
/// is ordered with every check that reads them: a create that was admitted under the old limits
/// ran before it, every later one sees the new ones. Lowering a limit below what a container
/// already has removes nothing; its next create, snapshot or growth is refused.
/// </summary>
public sealed class QuotaOperation(LvmDriver lvm) : IVolumeOperation
{
    public IReadOnlyCollection<string> Kinds { get; } = [OperationKinds.LlsQuota];

    public async Task<OperationDone> RunAsync(OperationRun run, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(run);
        var owner = run.Args.Owner ?? throw new BadRequest("a quota change names its container (HOST/CONTAINER).");
        var vg = await lvm.GetVgAsync(run.Lv.Vg, ct).ConfigureAwait(false);
        var current = LlsQuotaTags.AllTags(vg.Tags).TryGetValue(owner, out var c) ? c : (Set: new Dictionary<string, long?>(StringComparer.Ordinal), Tag: (string?)null);
        Dictionary<string, long?> next;
        try
        {
            next = LlsQuotaTags.Change(current.Set, run.Args.QuotaChanges ?? []);
        }
        catch (ArgumentException e)
        {
            throw new BadRequest($"quota of {owner}: {e.Message}");
        }

        var tag = LlsQuotaTags.Format(owner, next);
        var shown = tag is null ? "the host's configured limits" : tag[(LlsQuotaTags.Prefix.Length + owner.Length)..].TrimStart(':').Replace(':', ' ');
        if (tag == current.Tag)
        {
            return new OperationDone($"quota of {owner} unchanged: {shown}", "lls.quota-set");
        }

        var seqno = await lvm.ChangeVgTagsAsync(run.Lv.Vg, tag is null ? [] : [tag], current.Tag is null ? [] : [current.Tag], run.Permit, ct).ConfigureAwait(false);
        return new OperationDone($"quota of {owner} set: {shown}", "lls.quota-set", default, seqno);
    }
}
