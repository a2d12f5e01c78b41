using System.Collections.Concurrent;
using Akka.Actor;
using Npgsql;

namespace VgMesh.Cluster.Leases;

/// <summary>
/// What the leases of one ActorSystem share: one connection pool per database, and the clock
/// they measure their own time left on. Akka creates lease instances by reflection, so they
/// find these through the system rather than through dependency injection.
/// </summary>
public sealed class LeaseEnvironment : IExtension
{
    private readonly ConcurrentDictionary<(string Provider, string ConnectionString), Lazy<ILeaseStore>> _stores = new();
    private readonly ConcurrentBag<NpgsqlDataSource> _sources = [];

    public LeaseEnvironment(ExtendedActorSystem system)
    {
        system.RegisterOnTermination(() =>
        {
            foreach (var s in _sources)
            {
                s.Dispose();
            }
        });
    }

    /// <summary>The clock a lease measures its time left on; tests may set a virtual one before the first lease exists.</summary>
    public TimeProvider Time { get; set; } = TimeProvider.System;

    public static LeaseEnvironment Get(ActorSystem system) => system.WithExtension<LeaseEnvironment, LeaseEnvironmentProvider>();

    /// <summary>The store for a database, one per provider and connection string.</summary>
    /// <param name="provider"><c>postgresql</c> (a cluster) or <c>sqlite</c> (one host).</param>
    public ILeaseStore Store(string provider, string connectionString) =>
        _stores.GetOrAdd((provider, connectionString), key => new Lazy<ILeaseStore>(() =>
        {
            switch (key.Provider)
            {
                case "postgresql":
                    var source = NpgsqlDataSource.Create(key.ConnectionString);
                    _sources.Add(source);
                    return new PostgresLeaseStore(source);
                case "sqlite":
                    return new SqliteLeaseStore(key.ConnectionString);
                default:
                    throw new ArgumentException($"lease provider '{key.Provider}' is not known: use 'postgresql' or 'sqlite'", nameof(provider));
            }
        })).Value;
}

public sealed class LeaseEnvironmentProvider : ExtensionIdProvider<LeaseEnvironment>
{
    public override LeaseEnvironment CreateExtension(ExtendedActorSystem system) => new(system);
}
