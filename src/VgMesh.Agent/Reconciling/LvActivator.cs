using Microsoft.Extensions.Logging;
using VgMesh.Lvm;
using VgMesh.Lvm.DeviceMapper;
using VgMesh.Lvm.OnDisk;

namespace VgMesh.Agent.Reconciling;

/// <summary>
/// Activates an LV on this host, once the caller has the right to (the executor asks the
/// activation guard first). For a plain LV (linear segments, writable, visible, no snapshots) in
/// a VG without lvmlockd, activating is making one device with the table LVM would load: one
/// <c>dmsetup create</c> (90 ms in a lab host) with the table computed from the metadata on disk
/// (<see cref="LinearTable"/>; a lab test compares it with LVM's own), instead of an
/// <c>lvchange -aey</c> (0.3 s idle, 0.8 s beside a busy agent: most of a handoff). LVM then sees
/// the LV active: the device has LVM's name and uuid. The mirror of <see cref="Deactivator"/>.
/// Anything else, and any doubt (the metadata moved while the device was made, to a table other
/// than the one made), goes through LVM.
/// </summary>
public sealed partial class LvActivator(LvmDriver lvm, DmSetup dm, StateReader reader, OnDiskMetadata onDisk, ILogger<LvActivator> logger, string devRoot = "/dev")
{
    public async Task ActivateAsync(LvRef lv, ActivationMode mode, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(lv);
        if (!await TryDeviceAsync(lv, ct).ConfigureAwait(false))
        {
            await lvm.ActivateAsync(lv, mode, ct).ConfigureAwait(false);
        }
    }

    private async Task<bool> TryDeviceAsync(LvRef lv, CancellationToken ct)
    {
        if (reader.LastVolumeGroup is not { UsesLvmLockd: false } vg || vg.Name != lv.Vg || dm.SysfsNames() is not { } names || names.Contains(lv.DmName))
        {
            return false; // lvmlockd's LV lock is LVM's to take; an existing device is LVM's to judge
        }

        try
        {
            if (await TableAsync(lv, ct).ConfigureAwait(false) is not var (at, uuid, table))
            {
                return false;
            }

            await dm.CreateAsync(lv.DmName, uuid, table, ct).ConfigureAwait(false);

            // A commit since the read (the coordinator's, or one by hand) may have moved the LV:
            // the device stays only if the metadata now gives the same table.
            if (await TableAsync(lv, ct).ConfigureAwait(false) is not var (now, _, again) || (now != at && !again.SequenceEqual(table)))
            {
                LogMoved(logger, lv.FullName);
                await dm.RemoveAsync(lv.DmName, ct).ConfigureAwait(false);
                return false;
            }

            Link(lv);
            return true;
        }
        catch (Exception e) when (e is LvmException or IOException or FormatException or UnauthorizedAccessException)
        {
            LogFallback(logger, lv.FullName, e.Message);
            return false;
        }
    }

    /// <summary>The LV's table from the metadata on disk now, where it is a plain LV of a VG without lvmlockd, with the device uuid LVM gives it.</summary>
    private async Task<(MetadataFingerprint At, string Uuid, IReadOnlyList<VgMesh.Lvm.DeviceMapper.DmTableLine> Table)?> TableAsync(LvRef lv, CancellationToken ct)
    {
        if (await onDisk.ReadAsync(lv.Vg, ct).ConfigureAwait(false) is not var (at, md) || md.LockType is not null ||
            !md.PlainWritable.Contains(lv.Lv) || md.Lvs.FirstOrDefault(l => l.Name == lv.Lv) is not { } meta ||
            LinearTable.For(md, lv.Lv, lv.DmName, onDisk.PvNumber) is not { } table)
        {
            return null;
        }

        return (at, DmSetup.LvmUuidPrefix(md.Uuid) + meta.Uuid, table);
    }

    /// <summary>
    /// LVM's <c>/dev/VG/LV</c> link, as LVM makes it where udev does not run (udev's rules make
    /// the same one where it does): what VMs and operators open.
    /// </summary>
    private void Link(LvRef lv)
    {
        var dir = Path.Combine(devRoot, lv.Vg);
        var link = Path.Combine(dir, lv.Lv);
        try
        {
            Directory.CreateDirectory(dir);
            if (new FileInfo(link).LinkTarget is null && !File.Exists(link))
            {
                File.CreateSymbolicLink(link, Path.Combine(devRoot, "mapper", lv.DmName));
            }
        }
        catch (IOException)
        {
            // Made meanwhile (udev): the same link.
        }
    }

    [LoggerMessage(EventId = 3010, Level = LogLevel.Information, Message = "activating {Lv} through LVM: its device could not be made from the metadata ({Reason})")]
    private static partial void LogFallback(ILogger logger, string lv, string reason);

    [LoggerMessage(EventId = 3011, Level = LogLevel.Information, Message = "activating {Lv} through LVM: the metadata changed while its device was made")]
    private static partial void LogMoved(ILogger logger, string lv);
}
