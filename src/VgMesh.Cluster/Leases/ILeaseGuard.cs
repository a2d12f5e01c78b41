namespace VgMesh.Cluster.Leases;

/// <summary>
/// The fencing token of one lease acquisition. Whoever writes under a lease asks this, right
/// before the write starts, whether the lease is still held with time to spare.
/// </summary>
public interface ILeaseGuard
{
    /// <summary>The generation of this acquisition: the fencing token recorded with every write.</summary>
    long Generation { get; }

    /// <summary>The owner written in the lease row for this acquisition: with the generation, what another host checks a delegated write against.</summary>
    string Owner { get; }

    /// <summary>How long the lease is certain to be held without another renewal, on this host's clock; zero once lost.</summary>
    TimeSpan TimeLeft { get; }

    /// <summary>Cancelled the moment this acquisition is lost (or its time left falls under the safety margin).</summary>
    CancellationToken Lost { get; }

    /// <summary>Throws <see cref="LeaseLostException"/> unless the lease is held with more than the safety margin left.</summary>
    void EnsureHeld();
}

/// <summary>The lease is no longer certainly held: whatever was about to be written under it must not be.</summary>
public sealed class LeaseLostException(string leaseName, long generation, string reason)
    : Exception($"the coordinator lease '{leaseName}' (generation {generation}) is no longer held: {reason}; nothing was written. The next coordinator will run the operation.")
{
    public string LeaseName { get; } = leaseName;

    public long Generation { get; } = generation;
}
