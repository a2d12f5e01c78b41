namespace VgMesh.Lvm.Reports;

public enum LvVolumeType { Plain, Cache, Mirrored, MirroredNotSynced, Origin, OriginMerging, Raid, RaidNotSynced, Snapshot, SnapshotMerging, Pvmove, Virtual, Image, ImageOutOfSync, MirrorLog, UnderConversion, ThinVolume, ThinPool, ThinPoolData, VdoPool, VdoPoolData, Metadata, Unknown }

public enum LvAccess { Writeable, ReadOnly, ReadOnlyActivation, Unknown }

public enum LvAllocationPolicy { Anywhere, Contiguous, Inherited, Cling, Normal, Unknown }

public enum LvState { Inactive, Active, Historical, Suspended, InvalidSnapshot, InvalidSuspendedSnapshot, SnapshotMergeFailed, SuspendedSnapshotMergeFailed, MappedWithoutTables, MappedWithInactiveTable, ThinPoolCheckNeeded, SuspendedThinPoolCheckNeeded, Unknown }

public enum LvDeviceOpenState { Closed, Open, Unknown }

public enum LvTargetType { None, Cache, Mirror, Raid, Snapshot, Thin, Unknown, Virtual, Vdo, Writecache }

public enum LvHealth { Ok, Partial, RefreshNeeded, Mismatches, WriteMostly, Reshaping, Failed, OutOfDataSpace, MetadataReadOnly, Unknown }

/// <summary>
/// The ten characters of <c>lv_attr</c>, decoded as lvs(8) documents them. 'X' in state, open
/// or health means this kernel's table does not match the metadata (or LVM could not tell).
/// </summary>
public sealed record LvAttributes(
    string Raw,
    LvVolumeType VolumeType,
    LvAccess Access,
    LvAllocationPolicy AllocationPolicy,
    bool AllocationLocked,
    bool FixedMinor,
    LvState State,
    LvDeviceOpenState DeviceOpen,
    LvTargetType TargetType,
    bool ZeroNewBlocks,
    LvHealth Health,
    bool SkipActivation)
{
    public static LvAttributes Parse(string attr)
    {
        ArgumentNullException.ThrowIfNull(attr);
        if (attr.Length != 10)
        {
            throw new FormatException($"lv_attr '{attr}' is not the 10 characters lvs reports");
        }

        return new LvAttributes(
            attr,
            attr[0] switch
            {
                '-' => LvVolumeType.Plain, 'C' => LvVolumeType.Cache, 'm' => LvVolumeType.Mirrored, 'M' => LvVolumeType.MirroredNotSynced,
                'o' => LvVolumeType.Origin, 'O' => LvVolumeType.OriginMerging, 'r' => LvVolumeType.Raid, 'R' => LvVolumeType.RaidNotSynced,
                's' => LvVolumeType.Snapshot, 'S' => LvVolumeType.SnapshotMerging, 'p' => LvVolumeType.Pvmove, 'v' => LvVolumeType.Virtual,
                'i' => LvVolumeType.Image, 'I' => LvVolumeType.ImageOutOfSync, 'l' => LvVolumeType.MirrorLog, 'c' => LvVolumeType.UnderConversion,
                'V' => LvVolumeType.ThinVolume, 't' => LvVolumeType.ThinPool, 'T' => LvVolumeType.ThinPoolData, 'd' => LvVolumeType.VdoPool,
                'D' => LvVolumeType.VdoPoolData, 'e' => LvVolumeType.Metadata, _ => LvVolumeType.Unknown,
            },
            attr[1] switch { 'w' => LvAccess.Writeable, 'r' => LvAccess.ReadOnly, 'R' => LvAccess.ReadOnlyActivation, _ => LvAccess.Unknown },
            char.ToLowerInvariant(attr[2]) switch
            {
                'a' => LvAllocationPolicy.Anywhere, 'c' => LvAllocationPolicy.Contiguous, 'i' => LvAllocationPolicy.Inherited,
                'l' => LvAllocationPolicy.Cling, 'n' => LvAllocationPolicy.Normal, _ => LvAllocationPolicy.Unknown,
            },
            char.IsUpper(attr[2]),
            attr[3] == 'm',
            attr[4] switch
            {
                '-' => LvState.Inactive, 'a' => LvState.Active, 'h' => LvState.Historical, 's' => LvState.Suspended,
                'I' => LvState.InvalidSnapshot, 'S' => LvState.InvalidSuspendedSnapshot, 'm' => LvState.SnapshotMergeFailed,
                'M' => LvState.SuspendedSnapshotMergeFailed, 'd' => LvState.MappedWithoutTables, 'i' => LvState.MappedWithInactiveTable,
                'c' => LvState.ThinPoolCheckNeeded, 'C' => LvState.SuspendedThinPoolCheckNeeded, _ => LvState.Unknown,
            },
            attr[5] switch { 'o' => LvDeviceOpenState.Open, '-' => LvDeviceOpenState.Closed, _ => LvDeviceOpenState.Unknown },
            attr[6] switch
            {
                '-' => LvTargetType.None, 'C' => LvTargetType.Cache, 'm' => LvTargetType.Mirror, 'r' => LvTargetType.Raid,
                's' => LvTargetType.Snapshot, 't' => LvTargetType.Thin, 'v' => LvTargetType.Virtual, 'V' => LvTargetType.Vdo,
                'w' => LvTargetType.Writecache, _ => LvTargetType.Unknown,
            },
            attr[7] == 'z',
            attr[8] switch
            {
                '-' => LvHealth.Ok, 'p' => LvHealth.Partial, 'r' => LvHealth.RefreshNeeded, 'm' => LvHealth.Mismatches,
                'w' => LvHealth.WriteMostly, 's' => LvHealth.Reshaping, 'F' => LvHealth.Failed, 'D' => LvHealth.OutOfDataSpace,
                'M' => LvHealth.MetadataReadOnly, _ => LvHealth.Unknown,
            },
            attr[9] == 'k');
    }

    /// <summary>LVM could not match this kernel's table to the metadata (state, open and health all 'X').</summary>
    public bool KernelStateUnknown => State == LvState.Unknown;
}
