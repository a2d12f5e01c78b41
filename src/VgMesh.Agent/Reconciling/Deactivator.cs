using VgMesh.Lvm;
using VgMesh.Lvm.DeviceMapper;

namespace VgMesh.Agent.Reconciling;

/// <summary>
/// Deactivates an LV on this host. For a plain LV (its device sits straight on the PVs) in a VG
/// without lvmlockd, that is removing its one device: all <c>lvchange -an</c> does in this kernel,
/// without LVM's metadata scan, which in the lab was most of a handoff's release (260 ms against
/// 80 ms). Anything with layers (snapshots, origins, thin, cache), an lvmlockd
/// VG (whose LV lock only LVM releases), a host whose sysfs cannot tell, or a removal the kernel
/// refuses, goes through LVM, with its own retries.
/// </summary>
public sealed class Deactivator(LvmDriver lvm, DmSetup dm, StateReader reader, string devRoot = "/dev")
{
    public async Task DeactivateAsync(LvRef lv, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(lv);
        if (reader.LastVolumeGroup is { UsesLvmLockd: false } vg && vg.Name == lv.Vg && dm.MapsPhysicalDevicesOnly(lv.DmName) == true)
        {
            try
            {
                await dm.RemoveAsync(lv.DmName, ct).ConfigureAwait(false);
                SweepDanglingLinks(lv.Vg);
                return;
            }
            catch (LvmException)
            {
                // Open, or udev still probing it: LVM below says which, or retries.
            }
        }

        await lvm.DeactivateAsync(lv, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// LVM's <c>/dev/VG/LV</c> links left pointing at nothing once a device was removed with
    /// dmsetup (udev removes them where it runs; without udev, LVM does it itself only when it
    /// deactivates): a dangling link would tell an operator on this host the LV is there. A link
    /// being made points at a node that exists, so only dead links go.
    /// </summary>
    public void SweepDanglingLinks(string vg) => SweepDanglingLinksIn(Path.Combine(devRoot, vg));

    /// <summary><see cref="SweepDanglingLinks"/> in one directory (a VG's under <c>/dev</c>).</summary>
    public static void SweepDanglingLinksIn(string directory)
    {
        var dir = new DirectoryInfo(directory);
        try
        {
            foreach (var link in dir.Exists ? dir.EnumerateFiles() : [])
            {
                if (link.LinkTarget is not null && link.ResolveLinkTarget(returnFinalTarget: true) is not { Exists: true })
                {
                    link.Delete();
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Gone meanwhile (udev), or not ours to touch: the next activation replaces it.
        }
    }
}
