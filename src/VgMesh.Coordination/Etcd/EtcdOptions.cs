namespace VgMesh.Coordination.Etcd;

/// <summary>How to reach etcd. Immutable; validated at start.</summary>
public sealed record EtcdOptions
{
    /// <summary>Client URLs of the etcd members (<c>http://10.0.0.1:2379</c>); tried in turn when one fails.</summary>
    public IReadOnlyList<Uri> Endpoints { get; init; } = [];

    /// <summary>Every unary call gives up after this; a transaction that times out has an unknown outcome.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(5);

    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// A watch that receives nothing for this long is reopened from its last revision: a member
    /// that died silently would otherwise hold it forever. Reopening loses nothing.
    /// </summary>
    public TimeSpan WatchIdleTimeout { get; init; } = TimeSpan.FromSeconds(15);

    public EtcdOptions Validate()
    {
        if (Endpoints.Count == 0)
        {
            throw new ArgumentException("etcd settings: give at least one endpoint, e.g. http://127.0.0.1:2379.");
        }

        foreach (var e in Endpoints)
        {
            if (!e.IsAbsoluteUri || (e.Scheme != "http" && e.Scheme != "https"))
            {
                throw new ArgumentException($"etcd settings: endpoint '{e}' must be an absolute http:// or https:// URL.");
            }
        }

        if (RequestTimeout <= TimeSpan.Zero || ConnectTimeout <= TimeSpan.Zero || WatchIdleTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException("etcd settings: timeouts must be positive.");
        }

        return this;
    }
}
