namespace VgMesh.Agent.Lls;

/// <summary>One reading of a snapshot's copy-on-write space, in sectors, at a time in seconds.</summary>
public readonly record struct SnapshotSample(long AllocatedSectors, long TotalSectors, double AtSeconds)
{
    public double UsedPercent => TotalSectors == 0 ? 100 : 100.0 * AllocatedSectors / TotalSectors;
}

/// <summary>When a snapshot grows, and by how much. Pure: the watcher gives it two readings.</summary>
public static class GrowthPolicy
{
    private const long Mib = 1 << 20;

    /// <summary>How far back the fill rate is measured: one reading 250 ms after a 1 MiB write says 4 MiB/s.</summary>
    public const double RateWindowSeconds = 2;

    /// <summary>
    /// The bytes to grow by now, or null. Due when the usage is over the threshold, or when, at
    /// the rate between the two readings, the snapshot would be full within
    /// <see cref="LlsOptions.GrowAheadSeconds"/>. The step is the configured share of its size,
    /// or what that rate writes in twice the look-ahead, whichever is larger, so a fast writer
    /// is not chased one small step at a time. <paramref name="previous"/> is the oldest reading
    /// within <see cref="RateWindowSeconds"/>. <paramref name="room"/>, when known, is what the
    /// quota still allows: the step is cut to it (0 when nothing: the caller reports it blocked).
    /// </summary>
    public static long? Step(SnapshotSample? previous, SnapshotSample current, long sizeBytes, LlsOptions options, long? room = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var rate = previous is { } p && current.AtSeconds > p.AtSeconds && current.AllocatedSectors >= p.AllocatedSectors
            ? (current.AllocatedSectors - p.AllocatedSectors) * 512.0 / (current.AtSeconds - p.AtSeconds) : 0;
        var free = (current.TotalSectors - current.AllocatedSectors) * 512.0;
        var overThreshold = current.UsedPercent >= options.GrowThresholdPercent;
        var soonFull = options.GrowAheadSeconds > 0 && rate > 0 && free / rate < options.GrowAheadSeconds;
        if (!overThreshold && !soonFull)
        {
            return null;
        }

        // Whole MiB: LVM takes sizes in sectors and rounds them up to extents itself.
        var step = Math.Max(sizeBytes * options.GrowStepPercent / 100, (long)(rate * options.GrowAheadSeconds * 2));
        step = Math.Max(1, (step + Mib - 1) / Mib) * Mib;
        return room is { } r ? Math.Min(step, Math.Max(0, r / Mib * Mib)) : step;
    }
}
