using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using VgMesh.Cluster.Hosting;
using VgMesh.Cluster.Leases;

namespace VgMesh.Agent;

/// <summary>
/// The rule that decides when an agent outside the cluster gives up its incarnation. Pure, so it
/// is tested without an ActorSystem.
/// </summary>
public static class JoinWatch
{
    /// <summary>
    /// True when this host has been outside the cluster for <paramref name="giveUpAfter"/> or more
    /// while another host holds the coordinator lease: a cluster runs, its seeds are reachable
    /// enough for this host to be told it exists, and still this incarnation is not let in. After
    /// a full outage the lease runs out and nobody holds it; then the agent waits for an operator
    /// (<c>vgmesh cluster form</c>) instead of restarting in a loop.
    /// </summary>
    public static bool ShouldRestart(bool member, TimeSpan outsideFor, LeaseRow? lease, string host, TimeSpan giveUpAfter) =>
        !member && outsideFor >= giveUpAfter && lease is { Remaining.Ticks: > 0 } && lease.Owner != host;

    /// <summary>
    /// True when this host is a member of a cluster that is not the one that runs: its
    /// acquisitions of the coordinator lease have been refused for <paramref name="giveUpAfter"/>
    /// or more, and the lease is held by a node that is no member here (<paramref name="members"/>:
    /// <c>system@host:port</c>, as a lease owner starts). Seen in CI (the iSCSI lab, 2026-12-07):
    /// the first seed, downed seconds after it formed the cluster and before any contact was
    /// recorded, started again as first seed, had no answer from the others within the seed
    /// timeout and formed a one-host cluster of its own beside theirs. The lease kept it from
    /// coordinating; only a new incarnation, with its seeds in the order of a host that was a
    /// member before, gets it into theirs.
    /// </summary>
    public static bool IsStray(bool member, TimeSpan refusedFor, LeaseRow? lease, IReadOnlyCollection<string> members, TimeSpan giveUpAfter)
    {
        ArgumentNullException.ThrowIfNull(members);
        return member && refusedFor >= giveUpAfter && lease is { Remaining.Ticks: > 0 } && !members.Contains(OwnerNode(lease.Owner), StringComparer.Ordinal);
    }

    /// <summary>The node of a lease owner (<c>system@host:port#incarnation</c>).</summary>
    public static string OwnerNode(string owner)
    {
        ArgumentNullException.ThrowIfNull(owner);
        var hash = owner.IndexOf('#', StringComparison.Ordinal);
        return hash < 0 ? owner : owner[..hash];
    }
}

/// <summary>
/// Ends this agent's ActorSystem when it cannot get into a cluster that runs. Seen in CI twice
/// (2026-12-07, and once in session 13): an agent killed and started again while its host was cut
/// off, healed a few seconds later; both seeds received every one of the new incarnation's
/// InitJoin messages and answered them, but no answer ever reached it, for minutes ("Couldn't join
/// seed nodes"), while the other direction worked. The remoting state the seeds keep for that
/// address outlived the old incarnation's quarantine. A new incarnation (a new UID, new
/// associations) is what Akka itself offers for this (<c>shutdown-after-unsuccessful-join-seed-nodes</c>);
/// that setting alone would also restart every agent in a loop after a full outage, where the
/// cluster is to form only when an operator says, so the lease decides (<see cref="JoinWatch"/>).
/// The process ends with 75 and its supervisor starts a new agent, as after a downing.
/// </summary>
public sealed class JoinWatcher : ReceiveActor, IWithTimers
{
    private sealed record Tick
    {
        public static Tick Instance { get; } = new();
    }

    private sealed record LeaseRead(LeaseRow? Row, TimeSpan OutsideFor);

    private sealed record StrayRead(LeaseRow? Row, TimeSpan RefusedFor);

    /// <param name="memberMarker">A file written once this host is Up in a cluster: from then on it lists itself last among its seeds (<see cref="AgentOptions.ToClusterNodeOptions"/>), so a restart never forms a cluster of its own.</param>
    public JoinWatcher(string host, TimeSpan giveUpAfter, string? memberMarker, TimeProvider time)
    {
        var log = Context.GetLogger();
        var cluster = Akka.Cluster.Cluster.Get(Context.System);
        var lease = ClusterHostingExtensions.CoordinatorLease(Context.System);
        var outsideSince = time.GetTimestamp();
        long? refusedSince = null;
        var asking = false;
        bool Member() => cluster.State.Members.Any(m => m.UniqueAddress == cluster.SelfUniqueAddress);
        Receive<Tick>(_ =>
        {
            if (Member())
            {
                outsideSince = time.GetTimestamp();
                if (memberMarker is not null && !File.Exists(memberMarker) && cluster.SelfMember.Status == MemberStatus.Up)
                {
                    File.WriteAllText(memberMarker, host);
                }

                // Refused the lease while this host, the oldest here, wants it: is the holder in this cluster?
                refusedSince = lease.State == LeaseState.Acquiring ? refusedSince ?? time.GetTimestamp() : null;
                if (refusedSince is { } since && !asking && time.GetElapsedTime(since) >= giveUpAfter)
                {
                    asking = true;
                    var refusedFor = time.GetElapsedTime(since);
                    lease.ReadRowAsync(CancellationToken.None)
                        .ContinueWith(t => new StrayRead(t.IsCompletedSuccessfully ? t.Result : null, refusedFor), TaskScheduler.Default)
                        .PipeTo(Self);
                }

                return;
            }

            var outside = time.GetElapsedTime(outsideSince);
            if (asking || outside < giveUpAfter)
            {
                return;
            }

            // The lease's row is in the database, which this host reaches without the cluster.
            asking = true;
            ClusterHostingExtensions.CoordinatorLease(Context.System).ReadRowAsync(CancellationToken.None)
                .ContinueWith(t => new LeaseRead(t.IsCompletedSuccessfully ? t.Result : null, outside), TaskScheduler.Default)
                .PipeTo(Self);
        });
        Receive<StrayRead>(r =>
        {
            asking = false;
            var members = cluster.State.Members.Select(m => m.Address.HostPort()).ToList();
            if (JoinWatch.IsStray(Member(), r.RefusedFor, r.Row, members, giveUpAfter))
            {
                log.Error("{0} is in a cluster of {1} where nobody holds the coordinator lease for {2:0} s, while {3} (no member here) holds it (generation {4}): a second cluster beside the one that runs; restarting the agent to join that one",
                    host, string.Join(", ", members), r.RefusedFor.TotalSeconds, r.Row!.Owner, r.Row.Generation);
                CoordinatedShutdown.Get(Context.System).Run(JoinStuckReason.Instance);
            }
        });
        Receive<LeaseRead>(r =>
        {
            asking = false;
            if (JoinWatch.ShouldRestart(Member(), r.OutsideFor, r.Row, host, giveUpAfter))
            {
                log.Error("{0} has been outside the cluster for {1:0} s while {2} coordinates (lease generation {3}): its seeds do not let this incarnation in; restarting the agent",
                    host, r.OutsideFor.TotalSeconds, r.Row!.Owner, r.Row.Generation);
                CoordinatedShutdown.Get(Context.System).Run(JoinStuckReason.Instance);
            }
        });
    }

    public ITimerScheduler Timers { get; set; } = null!;

    protected override void PreStart() => Timers.StartPeriodicTimer("tick", Tick.Instance, TimeSpan.FromSeconds(5));
}

/// <summary>Why the agent's ActorSystem was shut down: it could not join the cluster that runs.</summary>
public sealed class JoinStuckReason : CoordinatedShutdown.Reason
{
    public static JoinStuckReason Instance { get; } = new();

    private JoinStuckReason()
    {
    }

    /// <summary>Akka's own exit is off (the agent exits itself, with 75); this is what it would use.</summary>
    public override int ExitCode => AgentExit.RestartCode;
}
