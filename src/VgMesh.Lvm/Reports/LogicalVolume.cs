namespace VgMesh.Lvm.Reports;

/// <summary>One logical volume as this host's LVM sees it: on-disk metadata plus this kernel's state.</summary>
/// <param name="VgSeqno">The VG's metadata sequence number in the same read (null in reports recorded without it).</param>
public sealed record LogicalVolume(
    string Name,
    string VgName,
    string Uuid,
    long SizeBytes,
    LvAttributes Attributes,
    string? Origin,
    double? DataPercent,
    string? PoolLv,
    int SegmentCount,
    IReadOnlyList<string> Tags,
    bool Active,
    bool ActiveLocally,
    bool ActiveExclusively,
    bool DeviceOpen,
    int? KernelMajor,
    int? KernelMinor,
    long ChunkSizeBytes,
    bool IsHidden,
    bool Merging,
    bool TableMismatch,
    long? VgSeqno = null)
{
    public string FullName => $"{VgName}/{Name}";

    public string DmName => LvRef.DmNameOf(VgName, Name);

    public bool IsSnapshot => Attributes.VolumeType is LvVolumeType.Snapshot or LvVolumeType.SnapshotMerging;

    /// <summary>A thin volume of a pool (a thin snapshot too: it has an origin besides).</summary>
    public bool IsThin => Attributes.VolumeType == LvVolumeType.ThinVolume && PoolLv is not null;
}
