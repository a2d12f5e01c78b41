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
    private readonly ConcurrentDictionary<string, Lazy<LeaseStore>> _stores = new(StringComparer.Ordinal);
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

    /// <summary>The store for a connection string, its table made on first use.</summary>
    public LeaseStore Store(string connectionString) =>
        _stores.GetOrAdd(connectionString, cs => new Lazy<LeaseStore>(() =>
        {
            var source = NpgsqlDataSource.Create(cs);
            _sources.Add(source);
            return new LeaseStore(source);
        })).Value;
}

public sealed class LeaseEnvironmentProvider : ExtensionIdProvider<LeaseEnvironment>
{
    public override LeaseEnvironment CreateExtension(ExtendedActorSystem system) => new(system);
}
