using Akka.Actor;
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

    public JoinWatcher(string host, TimeSpan giveUpAfter, TimeProvider time)
    {
        var log = Context.GetLogger();
        var cluster = Akka.Cluster.Cluster.Get(Context.System);
        var outsideSince = time.GetTimestamp();
        var asking = false;
        bool Member() => cluster.State.Members.Any(m => m.UniqueAddress == cluster.SelfUniqueAddress);
        Receive<Tick>(_ =>
        {
            if (Member())
            {
                outsideSince = time.GetTimestamp();
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
