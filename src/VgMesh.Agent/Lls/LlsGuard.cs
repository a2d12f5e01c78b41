using VgMesh.Agent.Operations;
using VgMesh.Lvm;
using VgMesh.Lvm.Reports;

namespace VgMesh.Agent.Lls;

/// <summary>
/// What the coordinator checks before it runs a container's operation, against the VG as it is
/// at that moment (serialized with every other change, so two requests cannot both fit a quota
/// that has room for one): the LV is the owner's (its tag, in the shared metadata), and the
/// result stays within the owner's quota. Pure: the caller reads the LVs.
/// </summary>
public static class LlsGuard
{
    /// <summary>What the check reads of an LV (from <c>lvs</c>, or from the metadata on disk).</summary>
    public sealed record Volume(string Name, long SizeBytes, bool IsSnapshot, IReadOnlyList<string> Tags);

    public static void Check(string kind, LvRef lv, LvOperation args, IReadOnlyList<LogicalVolume> all, IReadOnlyList<string>? vgTags)
    {
        ArgumentNullException.ThrowIfNull(all);
        Check(kind, lv, args, [.. all.Select(l => new Volume(l.Name, l.SizeBytes, l.IsSnapshot, l.Tags))], vgTags);
    }

    /// <summary>The LVs as the shared metadata has them: what a plain <c>lvs</c> lists.</summary>
    public static void Check(string kind, LvRef lv, LvOperation args, VgMesh.Lvm.OnDisk.VgMetadata vg)
    {
        ArgumentNullException.ThrowIfNull(vg);
        Check(kind, lv, args, [.. vg.Lvs.Where(l => l.Visible).Select(l => new Volume(l.Name, l.SizeBytes, l.IsSnapshot, l.Tags))], vg.Tags);
    }

    /// <param name="vgTags">The VG's tags, read with <paramref name="all"/>: limits set by an operator there override the requesting host's configured ones.</param>
    public static void Check(string kind, LvRef lv, LvOperation args, IReadOnlyList<Volume> all, IReadOnlyList<string>? vgTags)
    {
        ArgumentNullException.ThrowIfNull(lv);
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(all);
        var owner = args.Owner ?? throw new ArgumentException("not an LLS operation", nameof(args));
        var tag = LlsNames.OwnerTag(owner);
        var mine = all.Where(l => l.Tags.Contains(tag)).ToList();
        var target = all.FirstOrDefault(l => l.Name == lv.Lv);
        if (kind != OperationKinds.Create && (target is null || !target.Tags.Contains(tag)))
        {
            // The same answer whether it is missing or someone else's: names are not disclosed.
            throw new LvNotFound(lv.FullName, $"{lv.FullName} is not a volume of {owner}; 'lls list' shows yours.");
        }

        var q = LlsQuotaTags.Apply(args.Quota ?? new LlsQuota(), LlsQuotaTags.Find(vgTags, owner));

        var bytes = mine.Sum(l => l.SizeBytes);
        var (volumes, snapshots) = (mine.Count, mine.Count(l => l.IsSnapshot));
        switch (kind)
        {
            case OperationKinds.Create:
                Within(q, owner, "create", bytes + args.SizeBytes!.Value, volumes + 1, snapshots, null);
                break;
            case OperationKinds.Snapshot:
                Within(q, owner, "snapshot", bytes + args.SizeBytes!.Value, volumes + 1, snapshots + 1, args.SizeBytes);
                break;
            case OperationKinds.Extend:
                var size = args.SizeSign > 0 ? target!.SizeBytes + args.SizeBytes!.Value : args.SizeBytes!.Value;
                Within(q, owner, "resize", bytes - target!.SizeBytes + size, volumes, snapshots, target.IsSnapshot ? size : null);
                break;
            default:
                break;
        }
    }

    private static void Within(LlsQuota q, string owner, string what, long bytes, int volumes, int snapshots, long? snapshotBytes)
    {
        var over = new List<string>();
        if (q.MaxBytes is { } mb && bytes > mb)
        {
            over.Add($"{bytes} bytes in all, over the {mb} allowed");
        }

        if (q.MaxVolumes is { } mv && volumes > mv)
        {
            over.Add($"{volumes} volumes, over the {mv} allowed");
        }

        if (q.MaxSnapshots is { } ms && snapshots > ms)
        {
            over.Add($"{snapshots} snapshots, over the {ms} allowed");
        }

        if (snapshotBytes is { } sb && q.MaxSnapshotBytes is { } msb && sb > msb)
        {
            over.Add($"a snapshot of {sb} bytes, over the {msb} allowed");
        }

        if (over.Count > 0)
        {
            throw new OperationRefused("over-quota", $"{owner}'s {what} would make {string.Join("; ", over)}. Nothing was changed; delete volumes or ask an administrator for a larger quota ('vgmesh lls quota set').");
        }
    }
}

/// <summary>A container's request as the coordinator sees it: whose, and within what limits.</summary>
/// <param name="Why">Recorded with the operation (and its event), e.g. why a snapshot was collected.</param>
public sealed record LlsScope(string Owner, LlsQuota Quota, string? Why = null);
