using System.Globalization;
using VgMesh.Lvm.Commands;
using VgMesh.Lvm.DeviceMapper;

namespace VgMesh.Lvm;

/// <summary>
/// What a thin pool tells about its devices, read on the host where the pool is active: the
/// thin ids LVM gave them, and which data blocks two of them map differently (<c>thin_delta</c>
/// on a metadata snapshot the pool holds for the length of the read).
/// </summary>
public sealed class ThinPools(ILvmRunner runner, DmSetup dm)
{
    /// <summary>The thin ids (<c>lvs -o thin_id</c>) of <paramref name="lvs"/>, thin volumes of <paramref name="vg"/>.</summary>
    public async Task<IReadOnlyDictionary<string, long>> ThinIdsAsync(string vg, IReadOnlyList<string> lvs, CancellationToken ct = default)
    {
        LvmNames.ValidateVg(vg);
        ArgumentNullException.ThrowIfNull(lvs);
        var result = await runner.RunAsync(new LvmCommand(LvmTool.Lvm,
            ["lvs", "--noheadings", "--separator", ",", "-o", "lv_name,thin_id", "--", .. lvs.Select(lv => new LvRef(vg, lv).FullName)], vg), ct).ConfigureAwait(false);
        return ParseThinIds(LvmErrors.ThrowIfFailed(result, vg).Stdout);
    }

    /// <summary>Lines of <c>NAME,ID</c>; a thin volume without an id (none yet, or not thin) is left out.</summary>
    public static IReadOnlyDictionary<string, long> ParseThinIds(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = line.Split(',', StringSplitOptions.TrimEntries);
            if (parts.Length == 2 && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var id))
            {
                ids[parts[0]] = id;
            }
        }

        return ids;
    }

    /// <summary>
    /// <c>thin_delta</c>'s report of <paramref name="leftId"/> against <paramref name="rightId"/>
    /// in <paramref name="pool"/>. A live pool's metadata changes under a reader, so the pool
    /// first takes a snapshot of it (<c>reserve_metadata_snap</c>) that thin_delta reads
    /// (<c>--metadata-snap</c>); it is let go afterwards whatever happened, since a pool holds one
    /// at a time and it pins metadata blocks while held.
    /// </summary>
    public async Task<string> DeltaAsync(string vg, string pool, long leftId, long rightId, CancellationToken ct = default)
    {
        var target = DmSetup.ValidateName(LvRef.DmNameOf(vg, pool) + "-tpool");
        var metadata = "/dev/mapper/" + DmSetup.ValidateName(LvRef.DmNameOf(vg, pool + "_tmeta"));
        try
        {
            await dm.MessageAsync(target, "reserve_metadata_snap", ct).ConfigureAwait(false);
        }
        catch (LvmException e)
        {
            throw new ThinMetadataSnapshotException($"{vg}/{pool}", target, e);
        }

        try
        {
            var result = await runner.RunAsync(new LvmCommand(LvmTool.ThinDelta,
                ["--metadata-snap", "--snap1", leftId.ToString(CultureInfo.InvariantCulture), "--snap2", rightId.ToString(CultureInfo.InvariantCulture), metadata], $"{vg}/{pool}"), ct).ConfigureAwait(false);
            return LvmErrors.ThrowIfFailed(result, $"{vg}/{pool}").Stdout;
        }
        finally
        {
            // Not the caller's token: a cancelled sync must still let the snapshot go.
            await dm.MessageAsync(target, "release_metadata_snap", CancellationToken.None).ConfigureAwait(false);
        }
    }
}
