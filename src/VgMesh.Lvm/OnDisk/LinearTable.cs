using VgMesh.Lvm.DeviceMapper;

namespace VgMesh.Lvm.OnDisk;

/// <summary>
/// The device-mapper table LVM loads for an LV of linear segments, computed from the metadata
/// text: one <c>linear</c> line per segment, at <c>start_extent × extent_size</c>, mapping its
/// extents from the PV's <c>pe_start + pv_extent × extent_size</c>. It lets a host grow the
/// table of an LV extended elsewhere with one <c>dmsetup load</c> and <c>resume</c> instead of an
/// <c>lvchange --refresh</c> (0.66 s of LVM start-up in a lab host), and only where
/// <see cref="Grows"/> shows the live table is the start of it.
/// </summary>
public static class LinearTable
{
    /// <summary>
    /// The table of <paramref name="lv"/>, its lines naming each PV as <paramref name="pvDevice"/>
    /// gives it (by the PV's uuid, as <c>major:minor</c>); null when the LV is not made of linear
    /// segments only or a PV of it has no device here.
    /// </summary>
    public static IReadOnlyList<DmTableLine>? For(VgMetadata vg, string lv, string device, Func<string, string?> pvDevice)
    {
        ArgumentNullException.ThrowIfNull(vg);
        return Of(vg, vg.Linear, lv, device, pvDevice);
    }

    /// <summary>The table of classic snapshot <paramref name="lv"/>'s copy-on-write store (its <c>-cow</c> layer, <paramref name="device"/>); null as for <see cref="For"/>.</summary>
    public static IReadOnlyList<DmTableLine>? ForStore(VgMetadata vg, string lv, string device, Func<string, string?> pvDevice)
    {
        ArgumentNullException.ThrowIfNull(vg);
        return Of(vg, vg.Stores, lv, device, pvDevice);
    }

    private static List<DmTableLine>? Of(VgMetadata vg, IReadOnlyDictionary<string, IReadOnlyList<LinearSegment>> from, string lv, string device, Func<string, string?> pvDevice)
    {
        ArgumentNullException.ThrowIfNull(pvDevice);
        if (!from.TryGetValue(lv, out var segments) || vg.ExtentSectors <= 0)
        {
            return null;
        }

        var lines = new List<DmTableLine>(segments.Count);
        foreach (var s in segments)
        {
            if (!vg.Pvs.TryGetValue(s.Pv, out var pv) || pvDevice(pv.Id) is not { Length: > 0 } dev)
            {
                return null;
            }

            lines.Add(new DmTableLine(device, s.StartExtent * vg.ExtentSectors, s.Extents * vg.ExtentSectors,
                new LinearTarget(dev, pv.PeStartSectors + (s.PvStartExtent * vg.ExtentSectors))));
        }

        return lines;
    }

    /// <summary>
    /// Whether <paramref name="next"/> only adds to <paramref name="live"/>: both all <c>linear</c>,
    /// every live line the same in the next table but the last, which may only be longer there
    /// (LVM merges an extension that continues on the same PV into its last segment), and the next
    /// one larger. So every sector mapped now stays where it is, and only new ones are added:
    /// anything else (a reduce, a move, another kind of table) is left to LVM's own refresh.
    /// </summary>
    public static bool Grows(IReadOnlyList<DmTableLine> live, IReadOnlyList<DmTableLine> next)
    {
        ArgumentNullException.ThrowIfNull(live);
        ArgumentNullException.ThrowIfNull(next);
        if (live.Count == 0 || next.Count < live.Count || next.Sum(l => l.LengthSectors) <= live.Sum(l => l.LengthSectors) ||
            live.Concat(next).Any(l => l.Target is not LinearTarget))
        {
            return false;
        }

        for (var i = 0; i < live.Count; i++)
        {
            var (a, b) = (live[i], next[i]);
            var same = a.StartSector == b.StartSector && a.Target == b.Target;
            if (!same || (i < live.Count - 1 ? a.LengthSectors != b.LengthSectors : a.LengthSectors > b.LengthSectors))
            {
                return false;
            }
        }

        return true;
    }
}
