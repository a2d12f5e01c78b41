namespace VgMesh.Lvm.DeviceMapper;

/// <summary>A table line's target with its parameters decoded (see the kernel's Documentation/admin-guide/device-mapper).</summary>
public abstract record DmTarget(string Type)
{
    /// <summary>The parameters as the table line carries them, for <c>dmsetup load</c>.</summary>
    public abstract string Parameters { get; }
}

public sealed record LinearTarget(string Device, long OffsetSectors) : DmTarget("linear")
{
    public override string Parameters => $"{Device} {OffsetSectors}";
}

public sealed record StripedTarget(int Stripes, long ChunkSectors, IReadOnlyList<(string Device, long OffsetSectors)> Legs) : DmTarget("striped")
{
    public override string Parameters => $"{Stripes} {ChunkSectors} {string.Join(' ', Legs.Select(l => $"{l.Device} {l.OffsetSectors}"))}";
}

/// <summary><c>snapshot</c> or, while merging back into its origin, <c>snapshot-merge</c>.</summary>
public sealed record SnapshotTarget(string Origin, string Cow, bool Persistent, long ChunkSectors, bool Merging)
    : DmTarget(Merging ? "snapshot-merge" : "snapshot")
{
    public override string Parameters => $"{Origin} {Cow} {(Persistent ? "P" : "N")} {ChunkSectors}";
}

public sealed record SnapshotOriginTarget(string Origin) : DmTarget("snapshot-origin")
{
    public override string Parameters => Origin;
}

public sealed record ThinTarget(string PoolDevice, long DeviceId, string? ExternalOrigin) : DmTarget("thin")
{
    public override string Parameters => ExternalOrigin is null ? $"{PoolDevice} {DeviceId}" : $"{PoolDevice} {DeviceId} {ExternalOrigin}";
}

public sealed record ThinPoolTarget(string MetadataDevice, string DataDevice, long DataBlockSectors, long LowWaterMark, IReadOnlyList<string> Features)
    : DmTarget("thin-pool")
{
    public override string Parameters =>
        $"{MetadataDevice} {DataDevice} {DataBlockSectors} {LowWaterMark} {Features.Count}{string.Concat(Features.Select(f => " " + f))}";
}

/// <summary>Fails every I/O: what fencing loads in place of a fenced LV's table.</summary>
public sealed record ErrorTarget() : DmTarget("error")
{
    public override string Parameters => "";
}

public sealed record OtherTarget(string TargetType, IReadOnlyList<string> Args) : DmTarget(TargetType)
{
    public override string Parameters => string.Join(' ', Args);
}
