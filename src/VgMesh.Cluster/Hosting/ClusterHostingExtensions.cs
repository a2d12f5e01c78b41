using System.Globalization;
using Akka.Actor;
using Akka.Cluster.Hosting;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Coordination;
using Akka.Event;
using Akka.Hosting;
using Akka.Hosting.Coordination;
using Akka.Persistence.Sql.Hosting;
using VgMesh.Cluster.Coordinator;
using Akka.Remote.Transport.DotNetty;
using VgMesh.Cluster.Leases;
using VgMesh.Security;
using VgMesh.Cluster.Serialization;

namespace VgMesh.Cluster.Hosting;

/// <summary>The <see cref="ActorRegistry"/> key of the proxy to the coordinator singleton.</summary>
public sealed class CoordinatorKey;

/// <summary>The <see cref="ActorRegistry"/> key of this host's <see cref="Contact.ContactKeeper"/>.</summary>
public sealed class ContactKey;

/// <summary>
/// Wires an agent into the vgmesh Akka cluster, beside the rest of the host in
/// <c>AddAkka(...)</c>: remoting and clustering with the split brain resolver, the coordinator
/// journal on Akka.Persistence.Sql, DistributedPubSub for events, the coordinator singleton
/// behind the PostgreSQL lease, and vgmesh's serializer bound to every vgmesh message.
/// The coordinator's <see cref="IOperationHandler"/> comes from dependency injection.
/// </summary>
public static class ClusterHostingExtensions
{
    public const string SystemName = "vgmesh";
    public const string Role = "storage";
    public const string SingletonName = "coordinator";
    public const string LeaseConfigPath = "vgmesh.coordinator-lease";

    /// <summary>Every member carries its host name as a role, so membership names hosts without asking anyone.</summary>
    public const string HostRolePrefix = "host:";

    /// <summary>The host name of a member, or null for a member that is not a vgmesh agent.</summary>
    public static string? HostOf(Akka.Cluster.Member member) =>
        member.Roles.FirstOrDefault(r => r.StartsWith(HostRolePrefix, StringComparison.Ordinal))?[HostRolePrefix.Length..];

    /// <summary>The agents that are members now and Up (what a change's answer waits for, and a new coordinator's reports).</summary>
    /// <summary>
    /// The cluster has put the host out: no member of that name is joining, up or leaving (it was
    /// downed, is exiting, or was removed). Only then may what it holds move.
    /// </summary>
    public static bool IsGone(ActorSystem system, string host) =>
        !Akka.Cluster.Cluster.Get(system).State.Members.Any(m => m.HasRole(Role) && HostOf(m) == host && InCluster(m.Status));

    /// <summary>Still in the cluster: joining, up or leaving; not downed, exiting or removed.</summary>
    private static bool InCluster(Akka.Cluster.MemberStatus status) =>
        status is Akka.Cluster.MemberStatus.Joining or Akka.Cluster.MemberStatus.WeaklyUp or Akka.Cluster.MemberStatus.Up or Akka.Cluster.MemberStatus.Leaving;

    public static IReadOnlyCollection<string> LiveHosts(ActorSystem system) =>
        [.. Akka.Cluster.Cluster.Get(system).State.Members.Where(m => m.Status == Akka.Cluster.MemberStatus.Up && m.HasRole(Role)).Select(HostOf).OfType<string>()];

    public static AkkaConfigurationBuilder WithVgMeshCluster(this AkkaConfigurationBuilder builder, ClusterNodeOptions options)
    {
        options.Validate();
        if (options.CertificateDirectory is { } dir)
        {
            builder.AddSetup(TlsSetup(dir, TimeProvider.System));
        }

        builder.AddHocon(Hocon(options), HoconAddMode.Prepend)
            .WithCustomSerializer("vgmesh", [typeof(IClusterMessage)], system => new ClusterSerializer(system))
            .WithSqlPersistence(options.DatabaseConnectionString, options.JournalProvider, autoInitialize: true)
            .WithDistributedPubSub(Role)
            .WithSingleton<CoordinatorKey>(
                SingletonName,
                (system, _, resolver) => CoordinatorProps(system, resolver, options),
                new ClusterSingletonOptions
                {
                    Role = Role,
                    LeaseImplementation = new SqlLeaseOption(),
                    LeaseRetryInterval = options.LeaseRetry,
                    BufferSize = 1000,
                })
            .WithActors((system, _) => system.ActorOf(Props.Create(() => new JournalWarmup(options.Host)), "journal-warmup"))
            .WithActors((system, registry, resolver) =>
            {
                var time = resolver.GetService<TimeProvider>() ?? TimeProvider.System;
                var clock = resolver.GetService<Contact.ContactClock>() ?? new Contact.ContactClock(time, null);
                var coordinator = registry.Get<CoordinatorKey>();
                registry.Register<ContactKey>(system.ActorOf(Props.Create(() => new Contact.ContactKeeper(options.Host, coordinator, clock, time, options.PingInterval)), "contact"));
            });
        return builder;
    }

    /// <summary>The lease the singleton manager takes, under the name it gives it (system name and manager path).</summary>
    public static SqlLease CoordinatorLease(ActorSystem system)
    {
        var managerPath = new RootActorPath(new Address("akka", system.Name)) / "user" / SingletonName;
        var name = $"{system.Name}-singleton-{managerPath}";
        var owner = Akka.Cluster.Cluster.Get(system).SelfAddress.HostPort();
        return (SqlLease)LeaseProvider.Get(system).GetLease(name, LeaseConfigPath, owner);
    }

    /// <summary>
    /// Mutual TLS for Akka.Remote: this node's certificate both ways, and a peer accepted only
    /// with a certificate issued by the cluster's CA (the system trust store plays no part).
    /// </summary>
    public static DotNettySslSetup TlsSetup(string directory, TimeProvider time)
    {
        var ca = ClusterCertificates.LoadPublic(Path.Combine(directory, ClusterCertificates.CaCertificateFile));
        var node = ClusterCertificates.Load(Path.Combine(directory, ClusterCertificates.NodeCertificateFile), Path.Combine(directory, ClusterCertificates.NodeKeyFile));
        return new DotNettySslSetup(node, suppressValidation: false, requireMutualAuthentication: true,
            (peer, _, _, _, log) =>
            {
                if (peer is not null && ClusterCertificates.IssuedBy(ca, peer, time))
                {
                    return true;
                }

                log.Warning("refused a TLS peer: {0}", peer is null ? "it presented no certificate" : $"'{peer.Subject}' (issuer '{peer.Issuer}') is not from this cluster's CA");
                return false;
            });
    }

    private static Props CoordinatorProps(ActorSystem system, Akka.DependencyInjection.IDependencyResolver resolver, ClusterNodeOptions options)
    {
        var handler = resolver.GetService<IOperationHandler>();
        var time = resolver.GetService<TimeProvider>() ?? TimeProvider.System;
        var lease = CoordinatorLease(system);
        var mediator = DistributedPubSub.Get(system).Mediator;
        var settings = new CoordinatorSettings(options.Host, ReportExpiry: options.FenceAfter + options.FenceGrace, HistoryRetention: options.HistoryRetention, HistoryEvery: options.HistoryEvery, GoneGrace: options.FenceGrace, StorageFencing: options.StorageFencing);
        return Props.Create(() => new CoordinatorActor(settings, handler, () => lease.Current, mediator, time, () => LiveHosts(system), host => IsGone(system, host),
            () => lease.NotifyIfNotHeld("the coordinator started")));
    }

    private static string Hocon(ClusterNodeOptions o)
    {
        static string D(TimeSpan t) => string.Create(CultureInfo.InvariantCulture, $"{(long)t.TotalMilliseconds}ms");
        static string Q(string s) => "\"" + s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
        var seeds = string.Join(", ", o.SeedAddresses.Select(Q));
        var strategy = o.SplitBrain == SplitBrainStrategy.KeepMajority ? "keep-majority" : "lease-majority";
        return string.Create(CultureInfo.InvariantCulture, $$"""
            akka {
              actor.provider = cluster
              # The host's process decides how it ends (vgmeshd exits 75 when downed, for its
              # supervisor to start a new agent); Akka must not end it first.
              coordinated-shutdown.exit-clr = off
              # Each tick wakes .NET's timer thread, which waits 1 ms at a time on a HZ=100
              # kernel: 10 ms (the default) cost an idle lab agent twice the CPU (docs/architecture.md).
              scheduler.tick-duration = 50ms
              remote.dot-netty.tcp {
                hostname = {{Q(o.Hostname)}}
                port = {{o.Port}}
                enable-ssl = {{(o.CertificateDirectory is null ? "off" : "on")}}
              }
              cluster {
                roles = [ "{{Role}}", {{Q(HostRolePrefix + o.Host)}} ]
                seed-nodes = [ {{seeds}} ]
                downing-provider-class = "Akka.Cluster.SBR.SplitBrainResolverProvider, Akka.Cluster"
                split-brain-resolver {
                  active-strategy = {{strategy}}
                  stable-after = {{D(o.StableAfter)}}
                  lease-majority {
                    lease-implementation = "{{LeaseConfigPath}}"
                    lease-name = "vgmesh-split-brain"
                  }
                }
                failure-detector {
                  heartbeat-interval = {{D(o.HeartbeatInterval)}}
                  acceptable-heartbeat-pause = {{D(o.HeartbeatPause)}}
                }
                down-removal-margin = {{D(o.DownRemovalMargin)}}
                # The leader moves a downed member to removed on its next tick: every 250 ms
                # instead of every second takes half a second off the mean failover (ops/bench coordination).
                leader-actions-interval = 250ms
              }
            }
            {{LeaseConfigPath}} {
              lease-class = "VgMesh.Cluster.Leases.SqlLease, VgMesh.Cluster"
              provider = {{(o.IsSingleHost ? "sqlite" : "postgresql")}}
              heartbeat-timeout = {{D(o.LeaseTtl)}}
              heartbeat-interval = {{D(o.LeaseHeartbeat)}}
              lease-operation-timeout = {{D(o.LeaseHeartbeat)}}
              safety-margin = {{D(o.LeaseSafetyMargin)}}
              connection-string = {{Q(o.DatabaseConnectionString)}}
            }
            """);
    }

    /// <summary>
    /// Recovers an empty persistent actor once at start and stops: the journal's connections and
    /// compiled queries are then ready when this node has to take over as coordinator, instead of
    /// costing about a second of the failover (measured with ops/bench coordination).
    /// </summary>
    private sealed class JournalWarmup : Akka.Persistence.ReceivePersistentActor
    {
        public JournalWarmup(string host)
        {
            PersistenceId = "vgmesh-warmup-" + host;
            Recover<Akka.Persistence.RecoveryCompleted>(_ => Context.Stop(Self));
        }

        public override string PersistenceId { get; }
    }

    /// <summary>Akka.Hosting's handle on <see cref="SqlLease"/>: its configuration lives at <see cref="LeaseConfigPath"/>.</summary>
    private sealed class SqlLeaseOption : LeaseOptionBase
    {
        public override string ConfigPath => LeaseConfigPath;

        public override Type Class => typeof(SqlLease);

        public override void Apply(AkkaConfigurationBuilder builder, Akka.Actor.Setup.Setup? setup = null)
        {
            // Written with the rest of the cluster's configuration in Hocon(...).
        }
    }
}
