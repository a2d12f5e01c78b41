namespace VgMesh.Lvm.DeviceMapper;

/// <summary>A status line's target-specific part, decoded.</summary>
public abstract record DmTargetStatus;

public enum SnapshotHealth { Valid, Invalid, Overflow, MergeFailed, Unknown }

/// <summary>
/// <c>snapshot</c>/<c>snapshot-merge</c> status: <c>allocated/total metadata</c> in sectors, or
/// <c>Invalid</c>, <c>Overflow</c>, <c>Merge failed</c>. A full snapshot is invalidated by the kernel.
/// </summary>
public sealed record SnapshotStatus(SnapshotHealth Health, long AllocatedSectors, long TotalSectors, long MetadataSectors) : DmTargetStatus
{
    public double UsedPercent => TotalSectors == 0 ? (Health == SnapshotHealth.Valid ? 0 : 100) : 100.0 * AllocatedSectors / TotalSectors;
}

/// <summary><c>thin</c> status: mapped sectors and highest mapped sector; <see cref="Failed"/> for <c>Fail</c>.</summary>
public sealed record ThinStatus(bool Failed, long MappedSectors, long? HighestMappedSector) : DmTargetStatus;

/// <summary><c>thin-pool</c> status (metadata in metadata blocks, data in data blocks).</summary>
public sealed record ThinPoolStatus(
    bool Failed,
    long TransactionId,
    long UsedMetadataBlocks,
    long TotalMetadataBlocks,
    long UsedDataBlocks,
    long TotalDataBlocks,
    string Mode,
    IReadOnlyList<string> Rest) : DmTargetStatus
{
    public bool OutOfDataSpace => Mode == "out_of_data_space";

    public bool ReadOnly => Mode == "ro";
}

/// <summary>One path of a multipath device: its device number, whether the kernel uses it (A) or has failed it (F), and how often it failed.</summary>
public sealed record MultipathPath(string Device, bool Active, int FailCount);

/// <summary>A multipath device's paths, from its status line (Documentation/admin-guide/device-mapper: the per-group, per-path fields).</summary>
public sealed record MultipathStatus(IReadOnlyList<MultipathPath> Paths) : DmTargetStatus;

/// <summary>Targets whose status has nothing to decode (linear, snapshot-origin, error) or that we do not decode.</summary>
public sealed record RawStatus(string Text) : DmTargetStatus;
