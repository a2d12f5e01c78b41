using VgMesh.Agent.Reconciling;
using VgMesh.Lvm;
using VgMesh.Lvm.Reports;

namespace VgMesh.Agent.Operations;

/// <summary>The handlers' reads of one LV, with "not there" turned into what the operation means by it.</summary>
public static class LvLookups
{
    public static async Task<bool> ExistsAsync(this LvmDriver lvm, LvRef lv, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(lvm);
        try
        {
            await lvm.GetLvAsync(lv, ct).ConfigureAwait(false);
            return true;
        }
        catch (LvmNotFoundException)
        {
            return false;
        }
    }

    /// <summary>
    /// The VG's seqno with the LV in it, for a claim's precondition (the LV must exist before a
    /// claim on it is recorded): from the metadata on the shared disk, without an LVM process (on
    /// a handoff's path an <c>lvs</c> was 0.5-0.8 s of a lab host). The coordinator is the only
    /// writer, so the disk has every change it made. LVM's report answers where the disk cannot
    /// (no metadata area here, a read torn by a commit made by hand) and where the LV is not on
    /// it, so a missing LV gets LVM's own verdict.
    /// </summary>
    public static async Task<long?> SeqnoWithAsync(this OnDiskMetadata disk, LvmDriver lvm, LvRef lv, CancellationToken ct) =>
        (await disk.WithLvAsync(lvm, lv, ct).ConfigureAwait(false)).Seqno;

    /// <summary>
    /// As <see cref="SeqnoWithAsync"/>, with whether the disk's metadata shows the LV plain
    /// (striped or linear, no snapshot's store, no thin volume): false when it does not, or when
    /// LVM's report answered. One read of the disk for both.
    /// </summary>
    public static async Task<(long? Seqno, bool Plain)> WithLvAsync(this OnDiskMetadata disk, LvmDriver lvm, LvRef lv, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(disk);
        ArgumentNullException.ThrowIfNull(lv);
        try
        {
            if (await disk.ReadAsync(lv.Vg, ct).ConfigureAwait(false) is { } now && now.Vg.Name == lv.Vg && now.Vg.Lvs.FirstOrDefault(l => l.Name == lv.Lv) is { } onDisk)
            {
                return (now.Vg.Seqno, onDisk.Plain);
            }
        }
        catch (Exception e) when (e is IOException or FormatException or UnauthorizedAccessException or LvmException)
        {
            // LVM's report below says the same, the slow way.
        }

        return ((await lvm.GetOrNotFoundAsync(lv, ct).ConfigureAwait(false)).VgSeqno, false);
    }

    /// <summary>The LV, or <see cref="LvNotFound"/>.</summary>
    public static async Task<LogicalVolume> GetOrNotFoundAsync(this LvmDriver lvm, LvRef lv, CancellationToken ct) =>
        await lvm.GetOrGoneAsync(lv, recovered: false, ct).ConfigureAwait(false) ?? throw new InvalidOperationException("unreachable: only a replay finds the LV gone");

    /// <summary>The LV; null when it is gone and the operation is a replay (the previous coordinator did it); otherwise <see cref="LvNotFound"/>.</summary>
    public static async Task<LogicalVolume?> GetOrGoneAsync(this LvmDriver lvm, LvRef lv, bool recovered, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(lvm);
        ArgumentNullException.ThrowIfNull(lv);
        try
        {
            return await lvm.GetLvAsync(lv, ct).ConfigureAwait(false);
        }
        catch (LvmNotFoundException) when (recovered)
        {
            return null;
        }
        catch (LvmNotFoundException)
        {
            throw new LvNotFound(lv.FullName);
        }
    }
}
