using System.Globalization;
using VgMesh.Lvm.Commands;
using VgMesh.Lvm.DeviceMapper;

namespace VgMesh.Lvm;

/// <summary>
/// Which data blocks two thin devices of a pool map differently (<c>thin_delta</c> on a metadata
/// snapshot the pool holds for the length of the read), read on the host where the pool is
/// active. Their thin ids come from <see cref="LvmDriver.ThinIdsAsync"/>.
/// </summary>
public sealed class ThinPools(ILvmRunner runner, DmSetup dm)
{
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
