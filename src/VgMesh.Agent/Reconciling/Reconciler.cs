namespace VgMesh.Agent.Reconciling;

/// <summary>
/// Decides, and only decides: a pure function from desired and actual state to actions, run in
/// small phases in a fixed order. Teardown comes first (stale devices, then deactivations) so a
/// handoff never has the LV active on two hosts and freed space is unmapped before anything else;
/// refreshes come before activations so nothing is activated against an old table.
/// </summary>
public static class Reconciler
{
    /// <summary>The alert of an LV active on this host and on another without a shared claim.</summary>
    public const string DoubleActiveCode = "active-on-several-hosts";

    public static IReadOnlyList<ReconcileAction> Plan(DesiredState desired, ActualState actual)
    {
        ArgumentNullException.ThrowIfNull(desired);
        ArgumentNullException.ThrowIfNull(actual);
        var actions = new List<ReconcileAction>();
        var byUuid = desired.Lvs.Values.ToDictionary(l => l.Uuid, StringComparer.Ordinal);
        var topByUuid = actual.Devices.Where(d => !d.Layer).GroupBy(d => d.LvUuid).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);

        RemoveStale(actual, byUuid, actions);
        foreach (var lv in desired.Lvs.Values.OrderBy(l => l.Name, StringComparer.Ordinal))
        {
            var device = topByUuid.GetValueOrDefault(lv.Uuid);
            if (device is not null && lv.Exclusive && lv.ActiveElsewhere.Count > 0)
            {
                // The audit: whoever activated it (by hand, a script, another tool), two hosts may
                // now write it at once. Raised before anything else this pass does about it.
                actions.Add(new Alert(lv.Name, DoubleActiveCode,
                    $"{desired.Vg}/{lv.Name} is active on this host and on {string.Join(", ", lv.ActiveElsewhere)} without a shared claim: two hosts may write it at once. " +
                    (lv.Intent == HostIntent.InactiveHere ? "It is claimed by another host, so it is deactivated here unless it is open; stop what uses it here. "
                        : "Deactivate it on every host but one (vgmesh lv activate --exclusive on the one that keeps it), or claim it shared on each (vgmesh lv activate --shared) if it is meant to be. ") +
                    "Check the data on it."));
            }

            if (device is not null && lv.Intent == HostIntent.InactiveHere)
            {
                actions.Add(device.OpenCount > 0
                    ? new Alert(lv.Name, "deactivate-blocked", $"{desired.Vg}/{lv.Name} must be released by this host but is open ({device.OpenCount}); stop what uses it")
                    : new Deactivate(lv.Name, lv.Fenced));
            }
            else if (lv.Fenced)
            {
                // A fenced LV keeps its error table: a refresh or an activation would reload the real one.
                actions.Add(new Alert(lv.Name, "fenced",
                    $"{desired.Vg}/{lv.Name} was fenced when this host lost contact with the cluster; I/O to it fails. Once this host holds its claim, run 'vgmesh lv unfence {lv.Name}' here"));
            }
        }

        foreach (var lv in desired.Lvs.Values.OrderBy(l => l.Name, StringComparer.Ordinal))
        {
            var device = topByUuid.GetValueOrDefault(lv.Uuid);
            if (device is not null && lv.Intent != HostIntent.InactiveHere && !lv.Fenced &&
                (actual.MismatchedLvs.Contains(lv.Name) || (lv.CompareTableSize && device.TableSectors * 512 != lv.SizeBytes)))
            {
                actions.Add(new Refresh(lv.Name));
            }
        }

        foreach (var lv in desired.Lvs.Values.OrderBy(l => l.Name, StringComparer.Ordinal))
        {
            if (lv.Intent == HostIntent.ActiveHere && !lv.Fenced && !topByUuid.ContainsKey(lv.Uuid))
            {
                // Exclusive: only once every other host has let go. Shared: at once.
                actions.Add(lv.Exclusive && lv.ActiveElsewhere.Count > 0
                    ? new Alert(lv.Name, "handoff-waiting", $"{desired.Vg}/{lv.Name} is claimed by this host; waiting for {string.Join(", ", lv.ActiveElsewhere)} to release it")
                    : new Activate(lv.Name, lv.Exclusive));
            }
        }

        return actions;
    }

    /// <summary>
    /// The light path for a metadata change seen on disk (no <c>lvs</c>): for each LV active here,
    /// as the last pass found it, whose live table maps another size than the metadata now gives
    /// it, the table computed from the metadata when it only adds to the live one (an extend:
    /// <see cref="GrowTable"/>), else LVM's refresh. Only LVs whose device maps their size
    /// (<see cref="VgMesh.Lvm.OnDisk.MetadataLv.Plain"/>), and never a fenced one (either would
    /// load its real table back). Everything else waits for the full pass that follows.
    /// </summary>
    /// <param name="topSectors">This host's top devices of the VG: LV uuid to live size in sectors.</param>
    /// <param name="liveTable">A top device's live table by its name; null when it cannot be read.</param>
    /// <param name="pvDevice">A PV's device number here (<c>major:minor</c>) by its uuid; null when not known.</param>
    public static IReadOnlyList<ReconcileAction> PlanDrift(VgMesh.Lvm.OnDisk.VgMetadata metadata, IReadOnlyDictionary<string, long> topSectors,
        IReadOnlySet<string> activeHere, IReadOnlySet<string> fenced, Func<string, IReadOnlyList<VgMesh.Lvm.DeviceMapper.DmTableLine>?> liveTable, Func<string, string?> pvDevice)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        ArgumentNullException.ThrowIfNull(topSectors);
        ArgumentNullException.ThrowIfNull(activeHere);
        ArgumentNullException.ThrowIfNull(fenced);
        ArgumentNullException.ThrowIfNull(liveTable);
        return [.. metadata.Lvs
            .Where(l => l.Plain && activeHere.Contains(l.Name) && !fenced.Contains(l.Name) &&
                topSectors.TryGetValue(l.Uuid, out var sectors) && sectors * 512 != l.SizeBytes)
            .OrderBy(l => l.Name, StringComparer.Ordinal)
            .Select(l =>
            {
                var device = VgMesh.Lvm.LvRef.DmNameOf(metadata.Name, l.Name);
                var next = VgMesh.Lvm.OnDisk.LinearTable.For(metadata, l.Name, device, pvDevice);
                return next is not null && liveTable(device) is { } live && VgMesh.Lvm.OnDisk.LinearTable.Grows(live, next)
                    ? new GrowTable(l.Name, next) : (ReconcileAction)new Refresh(l.Name);
            })];
    }

    /// <summary>
    /// Devices of LVs gone from the metadata. Top devices go first, then layers (a snapshot's
    /// <c>-cow</c>, an origin's <c>-real</c>), since tops hold layers open. An open top is reported,
    /// never forced, and its layers stay; a layer still held when its turn comes fails in the
    /// executor as in-use and is reported the same way.
    /// </summary>
    private static void RemoveStale(ActualState actual, Dictionary<string, DesiredLv> byUuid, List<ReconcileAction> actions)
    {
        var stale = actual.Devices.Where(d => !byUuid.ContainsKey(d.LvUuid)).ToList();
        var blocked = new HashSet<string>(StringComparer.Ordinal);
        foreach (var top in stale.Where(d => !d.Layer).OrderBy(d => d.Name, StringComparer.Ordinal))
        {
            if (top.OpenCount > 0)
            {
                blocked.Add(top.LvUuid);
                actions.Add(new Alert(top.Name, "stale-device-open",
                    $"device {top.Name} maps an LV that no longer exists but is open ({top.OpenCount}); it was not removed. Stop what uses it and vgmesh will remove it"));
            }
            else
            {
                actions.Add(new RemoveStaleDevice(top.Name, top.LvUuid));
            }
        }

        foreach (var layer in stale.Where(d => d.Layer && !blocked.Contains(d.LvUuid)).OrderBy(d => d.Name, StringComparer.Ordinal))
        {
            actions.Add(new RemoveStaleDevice(layer.Name, layer.LvUuid));
        }
    }
}
