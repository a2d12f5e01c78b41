namespace VgMesh.Lvm.DeviceMapper;

/// <summary>One device-mapper device from <c>dmsetup info -c</c>.</summary>
/// <param name="Uuid">Empty for devices not made by LVM; LVM's start with <c>LVM-</c>.</param>
public sealed record DmDevice(
    string Name,
    string Uuid,
    int Major,
    int Minor,
    int OpenCount,
    bool LiveTable,
    bool InactiveTable,
    bool Suspended,
    bool ReadOnly,
    int Segments,
    int Events)
{
    /// <summary>Made by LVM: its uuid is <c>LVM-</c> + VG uuid + LV uuid (+ a layer suffix such as <c>-cow</c>).</summary>
    public bool IsLvm => Uuid.StartsWith("LVM-", StringComparison.Ordinal);

    /// <summary>A layer LVM stacks under an LV (<c>-real</c>, <c>-cow</c>, <c>-tpool</c>, <c>_tdata</c>...), not the LV's top device.</summary>
    public bool IsLvmLayer => IsLvm && Uuid.Length > 4 + 64;
}

/// <summary>One line of <c>dmsetup table</c>: a segment of a device and its target.</summary>
public sealed record DmTableLine(string Device, long StartSector, long LengthSectors, DmTarget Target);

/// <summary>One line of <c>dmsetup status</c>.</summary>
public sealed record DmStatusLine(string Device, long StartSector, long LengthSectors, string TargetType, DmTargetStatus Status);
