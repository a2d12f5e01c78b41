using Akka.Actor;
using Akka.Event;
using Akka.Remote;

namespace VgMesh.Agent;

/// <summary>
/// Ends this agent's ActorSystem when another member has quarantined it: Akka.Remote then refuses
/// every association from this incarnation for good ("Remote actorsystem must be restarted"), so
/// it could never rejoin, and it may have been taken for a member and downed without hearing of
/// it. Seen in the lab (2026-12-05): an agent restarted while its host was cut off joined in the
/// moment of the heal, was marked unreachable, downed and quarantined by the others, and stayed
/// outside the cluster for good. The coordinated shutdown fences what this host holds first, as
/// for a downing, and the process ends with 75 so its supervisor starts a new incarnation.
/// </summary>
public sealed class QuarantineWatcher : ReceiveActor
{
    public QuarantineWatcher()
    {
        var log = Context.GetLogger();
        Receive<ThisActorSystemQuarantinedEvent>(q =>
        {
            log.Error("{0} has quarantined this agent's ActorSystem ({1}): fencing what this host holds and restarting the agent", q.RemoteAddress, q.LocalAddress);
            CoordinatedShutdown.Get(Context.System).Run(QuarantinedReason.Instance);
        });
    }

    protected override void PreStart() => Context.System.EventStream.Subscribe(Self, typeof(ThisActorSystemQuarantinedEvent));

    protected override void PostStop() => Context.System.EventStream.Unsubscribe(Self);
}

/// <summary>Why the agent's ActorSystem was shut down: another member quarantined it.</summary>
public sealed class QuarantinedReason : CoordinatedShutdown.Reason
{
    public static QuarantinedReason Instance { get; } = new();

    private QuarantinedReason()
    {
    }

    /// <summary>Akka's own exit is off (the agent exits itself, with 75); this is what it would use.</summary>
    public override int ExitCode => AgentExit.RestartCode;
}
