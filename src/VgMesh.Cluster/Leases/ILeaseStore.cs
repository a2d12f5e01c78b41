namespace VgMesh.Cluster.Leases;

/// <summary>What the database says of a lease now, on its own clock.</summary>
/// <param name="Remaining">Time until it runs out; zero or less when it has.</param>
public sealed record LeaseRow(string Name, string Owner, long Generation, TimeSpan Remaining);

/// <summary>
/// Leases as rows in the journal's database, one row per lease name. Every change is one
/// statement that compares and sets on the database's clock, so the hosts' clocks never decide
/// who holds a lease. The generation grows by one on every acquisition and is never reset: a
/// row is never deleted, only expired, so a generation is never handed out twice.
/// </summary>
public interface ILeaseStore
{
    /// <summary>Makes the table if it is missing.</summary>
    Task InitializeAsync(CancellationToken ct);

    /// <summary>
    /// Takes the lease if it is free (never held, run out, or held by this very owner) and
    /// returns the new generation; null when another owner holds it.
    /// </summary>
    Task<long?> TryAcquireAsync(string name, string owner, TimeSpan ttl, CancellationToken ct);

    /// <summary>Extends the lease by <paramref name="ttl"/> from now if this owner still holds this generation and it has not run out.</summary>
    Task<bool> RenewAsync(string name, string owner, long generation, TimeSpan ttl, CancellationToken ct);

    /// <summary>Ends the lease now, if this owner still holds this generation. The row stays: its generation must keep growing.</summary>
    Task<bool> ReleaseAsync(string name, string owner, long generation, CancellationToken ct);

    Task<LeaseRow?> ReadAsync(string name, CancellationToken ct);
}
