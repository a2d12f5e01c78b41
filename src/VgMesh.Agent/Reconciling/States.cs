namespace VgMesh.Agent.Reconciling;

/// <summary>What the cluster wants of one LV on this host.</summary>
public enum HostIntent
{
    /// <summary>No claim: activation is left as it is (hand-managed).</summary>
    Unmanaged,

    /// <summary>Claimed by this host: active here, once no other host has it active.</summary>
    ActiveHere,

    /// <summary>Claimed by another host, or claimed inactive: not active here.</summary>
    InactiveHere,
}

/// <param name="Uuid">The LV uuid without dashes, as device-mapper uuids carry it.</param>
/// <param name="ActiveElsewhere">Hosts (other than this one) that report it active.</param>
/// <param name="CompareTableSize">False for snapshots: their table spans the origin, not the COW size LVM reports.</param>
/// <param name="Fenced">This host loaded an error table into it when it lost contact with the cluster; only a deactivation or an operator's unfence ends that.</param>
public sealed record DesiredLv(string Name, string Uuid, long SizeBytes, HostIntent Intent, bool Exclusive, IReadOnlyList<string> ActiveElsewhere, bool CompareTableSize = true, bool Fenced = false);

/// <summary>Desired state: the VG's on-disk metadata and the activation claims.</summary>
public sealed record DesiredState(string Vg, string VgUuid, IReadOnlyDictionary<string, DesiredLv> Lvs);

/// <summary>One device-mapper device of this VG on this host.</summary>
/// <param name="LvUuid">The LV uuid it maps (no dashes).</param>
/// <param name="Layer">A layer under an LV (<c>-real</c>, <c>-cow</c>, <c>-tpool</c>...), not its top device.</param>
public sealed record DeviceState(string Name, string LvUuid, bool Layer, int OpenCount, long TableSectors);

/// <summary>Actual state: this host's device-mapper devices of the VG, and LVM's view of its LVs here.</summary>
/// <param name="MismatchedLvs">Active LVs whose table LVM reports as not matching the metadata.</param>
public sealed record ActualState(IReadOnlyList<DeviceState> Devices, IReadOnlySet<string> MismatchedLvs);

public abstract record ReconcileAction(string Subject);

/// <summary>A device whose LV no longer exists in the metadata: it still maps space LVM considers free.</summary>
/// <param name="LvUuid">The LV uuid it maps (no dashes): the executor re-checks it against a fresh report first.</param>
public sealed record RemoveStaleDevice(string Subject, string? LvUuid = null) : ReconcileAction(Subject);

/// <param name="Unfences">The LV was fenced here: deactivating ends the fence.</param>
public sealed record Deactivate(string Subject, bool Unfences = false) : ReconcileAction(Subject);

/// <summary>The table differs from the metadata (another host resized it): reload it.</summary>
public sealed record Refresh(string Subject) : ReconcileAction(Subject);

/// <summary>
/// The table of an LV of linear segments grown elsewhere, computed from the metadata, that only
/// adds to the live one (<see cref="VgMesh.Lvm.OnDisk.LinearTable.Grows"/>): loaded and resumed
/// with two <c>dmsetup</c> calls, which cost a lab host 0.15 s where <c>lvchange --refresh</c>
/// costs 0.66 s.
/// </summary>
public sealed record GrowTable(string Subject, IReadOnlyList<VgMesh.Lvm.DeviceMapper.DmTableLine> Table) : ReconcileAction(Subject);

public sealed record Activate(string Subject, bool Exclusive) : ReconcileAction(Subject);

/// <summary>Something needs an operator: nothing is forced.</summary>
public sealed record Alert(string Subject, string Code, string Message) : ReconcileAction(Subject);
