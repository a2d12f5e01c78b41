namespace VgMesh.Lvm.Reports;

/// <summary>One volume group as LVM reports it. <see cref="Seqno"/> grows on every metadata change.</summary>
public sealed record VolumeGroup(
    string Name,
    string Uuid,
    long SizeBytes,
    long FreeBytes,
    long ExtentSizeBytes,
    long ExtentCount,
    long FreeExtentCount,
    long Seqno,
    string Attr,
    string LockType,
    int LvCount,
    int SnapshotCount,
    int PvCount,
    IReadOnlyList<string> Tags)
{
    /// <summary>An lvmlockd VG (sanlock or dlm): LVM's own locks serialize its metadata.</summary>
    public bool UsesLvmLockd => LockType is "sanlock" or "dlm";
}

/// <summary>One physical volume. <see cref="VgName"/> is null for an orphan PV.</summary>
public sealed record PhysicalVolume(
    string Name,
    string Uuid,
    string? VgName,
    long SizeBytes,
    long FreeBytes,
    long DeviceSizeBytes,
    string Attr);
