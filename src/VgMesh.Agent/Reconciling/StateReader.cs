using VgMesh.Agent.Telemetry;
using VgMesh.Cluster.Coordinator;
using VgMesh.Lvm;
using VgMesh.Lvm.DeviceMapper;
using VgMesh.Lvm.Reports;

namespace VgMesh.Agent.Reconciling;

/// <summary>Reads desired state (metadata, claims, other hosts' reports) and actual state (this host's device-mapper).</summary>
public sealed class StateReader(LvmDriver lvm, DmSetup dm, AgentCluster cluster, ClaimCache claimCache, FencedSet fenced, AgentMetrics metrics, AgentOptions options)
{
    private volatile VolumeGroup? _vg;

    /// <summary>The volume group as the last pass read it (null before the first).</summary>
    public VolumeGroup? LastVolumeGroup => _vg;

    /// <returns>Both states, and the LV report they came from (a pass that changed nothing reports it as is).</returns>
    public async Task<(DesiredState Desired, ActualState Actual, IReadOnlyList<LogicalVolume> Lvs)> ReadAsync(CancellationToken ct)
    {
        // The VG's columns ride on the LV report.
        var (lvs, vg) = await lvm.ListLvsWithVgAsync(options.VolumeGroup, ct).ConfigureAwait(false);
        _vg = vg;

        var view = await cluster.StatusAsync(ct).ConfigureAwait(false);
        var claims = Claims(view);
        claimCache.Set(claims);
        var statuses = Statuses(view);
        var tables = await dm.SizesAsync(ct).ConfigureAwait(false);
        var devices = await DevicesAsync(vg, tables, ct).ConfigureAwait(false);
        var fencedHere = PruneFenced(lvs, devices);

        var desired = lvs.Where(l => !l.IsHidden).ToDictionary(l => l.Name, l =>
        {
            var claim = claims.GetValueOrDefault(l.Name);
            var intent = claim is null ? HostIntent.Unmanaged
                : claim.Holders.Contains(options.Host) ? HostIntent.ActiveHere
                : HostIntent.InactiveHere;
            var elsewhere = statuses.Where(s => s.Key != options.Host && s.Value.Active.Any(a => a.Name == l.Name)).Select(s => s.Key).Order(StringComparer.Ordinal).ToList();
            return new DesiredLv(l.Name, l.Uuid.Replace("-", "", StringComparison.Ordinal), l.SizeBytes, intent, claim?.Mode != ActivationClaim.Shared, elsewhere,
                CompareTableSize: !l.IsSnapshot, Fenced: fencedHere.Contains(l.Name));
        }, StringComparer.Ordinal);

        metrics.ObserveVolumeGroup(vg, lvs, devices.Count(d => d.OpenCount > 0));
        var mismatched = lvs.Where(l => l.TableMismatch).Select(l => l.Name).ToHashSet(StringComparer.Ordinal);
        return (new DesiredState(options.VolumeGroup, vg.Uuid, desired), new ActualState(devices, mismatched), lvs);
    }

    /// <summary>
    /// The fenced LVs that still have a device here. A record whose device is gone (a crash or a
    /// reboot took it, with its error table) is dropped: the LV is simply inactive here now, and a
    /// record left behind would keep it from being activated and let a later fence round take a
    /// device activated since for one already fenced.
    /// </summary>
    private IReadOnlySet<string> PruneFenced(IReadOnlyList<LogicalVolume> lvs, List<DeviceState> devices)
    {
        var recorded = fenced.Current;
        if (recorded.Count == 0)
        {
            return recorded;
        }

        var withDevice = devices.Where(d => !d.Layer).Select(d => d.LvUuid).ToHashSet(StringComparer.Ordinal);
        var gone = recorded.Where(name => lvs.FirstOrDefault(l => l.Name == name) is not { } lv || !withDevice.Contains(lv.Uuid.Replace("-", "", StringComparison.Ordinal))).ToList();
        foreach (var name in gone)
        {
            fenced.Remove(name);
        }

        return gone.Count == 0 ? recorded : recorded.Except(gone).ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>
    /// The LVs active on this host as device-mapper shows them now (top devices of the VG, named
    /// through the pass's LV report): what a pass that acted reports, for one <c>dmsetup info</c>
    /// instead of another <c>lvs</c>.
    /// </summary>
    public async Task<List<ActiveLv>> ActiveNowAsync(IReadOnlyList<LogicalVolume> lvs, CancellationToken ct)
    {
        var vg = _vg ?? await lvm.GetVgAsync(options.VolumeGroup, ct).ConfigureAwait(false);
        var byUuid = lvs.Where(l => !l.IsHidden).ToDictionary(l => l.Uuid.Replace("-", "", StringComparison.Ordinal), StringComparer.Ordinal);
        return (await DevicesAsync(vg, null, ct).ConfigureAwait(false))
            .Where(d => !d.Layer && byUuid.ContainsKey(d.LvUuid))
            .Select(d => new ActiveLv(byUuid[d.LvUuid].Name, d.OpenCount > 0 ? 1 : 0))
            .ToList();
    }

    private async Task<List<DeviceState>> DevicesAsync(VolumeGroup vg, IReadOnlyDictionary<string, long>? tables, CancellationToken ct)
    {
        var prefix = DmSetup.LvmUuidPrefix(vg.Uuid);
        // lvmlockd's own hidden LV (sanlock's leases), active and open on every host of the
        // lockspace: LVM's, never a device of an LV that went away.
        var lockLv = vg.UsesLvmLockd ? SanlockResource.LockLvDevice(vg.Name) : null;
        return (await dm.ListAsync(ct).ConfigureAwait(false))
            .Where(d => d.Uuid.StartsWith(prefix, StringComparison.Ordinal) && d.Uuid.Length >= prefix.Length + 32 && d.Name != lockLv)
            .Select(d => new DeviceState(d.Name, d.Uuid.Substring(prefix.Length, 32), d.Uuid.Length > prefix.Length + 32, d.OpenCount, tables?.GetValueOrDefault(d.Name) ?? 0))
            .ToList();
    }

    public static Dictionary<string, ActivationClaim> Claims(CoordinatorStatus view)
    {
        ArgumentNullException.ThrowIfNull(view);
        return view.Claims.ToDictionary(c => c.Lv, ActivationClaim.From, StringComparer.Ordinal);
    }

    public static Dictionary<string, HostStatus> Statuses(CoordinatorStatus view)
    {
        ArgumentNullException.ThrowIfNull(view);
        return view.Reports.ToDictionary(r => r.Host, HostStatus.FromReport, StringComparer.Ordinal);
    }
}
