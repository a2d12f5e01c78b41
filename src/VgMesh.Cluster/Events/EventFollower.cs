using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Event;
using VgMesh.Cluster.Coordinator;

namespace VgMesh.Cluster.Events;

/// <param name="Host">This host, as it acknowledges.</param>
/// <param name="StatePath">The file that keeps the applied position across restarts.</param>
/// <param name="AckEvery">How often the position is told again, so a new coordinator learns it without waiting for an event.</param>
public sealed record EventFollowerSettings(string Host, string StatePath, string Topic = CoordinatorSettings.DefaultEventsTopic, TimeSpan? AckEvery = null, TimeSpan? RetryAfter = null);

/// <summary>
/// Applies the cluster's events on this host, in sequence order, each once: live from the events
/// topic, and from the coordinator's journal for whatever it missed (a gap in the live stream, a
/// restart, a rejoin, or live copies that never came: the coordinator answers each
/// acknowledgement with its last event). The position is saved on disk after every applied batch
/// and acknowledged to the coordinator. One batch is worked on at a time; what arrives meanwhile waits.
/// </summary>
/// <remarks>
/// Exactly once while the host runs; a crash between an applied batch and its saved position
/// applies that batch again at restart, so appliers act idempotently (a refresh, a deactivation
/// and a removal of stale devices all are).
/// </remarks>
// Its token source is disposed in PostStop, where an actor ends.
#pragma warning disable CA1001
public sealed class EventFollower : ReceiveActor, IWithUnboundedStash, IWithTimers
{
    private readonly EventFollowerSettings _settings;
    private readonly IEventApplier _applier;
    private readonly IJournalReader _journal;
    private readonly IActorRef _mediator;
    private readonly IActorRef _coordinator;
    private readonly TimeProvider _time;
    private readonly Func<EventsCommitted, bool>? _dropLive;
    private readonly AppliedStore _store;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly CancellationTokenSource _stopping = new();
    private AppliedPosition _position = AppliedPosition.Start;

    /// <param name="mediator">The DistributedPubSub mediator.</param>
    /// <param name="coordinator">The coordinator singleton's proxy, told each applied position.</param>
    /// <param name="dropLive">Tests only: live batches this answers true for are dropped, as a lossy network would.</param>
    public EventFollower(EventFollowerSettings settings, IEventApplier applier, IJournalReader journal, IActorRef mediator, IActorRef coordinator, TimeProvider time, Func<EventsCommitted, bool>? dropLive = null)
    {
        _settings = settings;
        _applier = applier;
        _journal = journal;
        _mediator = mediator;
        _coordinator = coordinator;
        _time = time;
        _dropLive = dropLive;
        _store = new AppliedStore(settings.StatePath);
        Busy();
    }

    public IStash Stash { get; set; } = null!;

    public ITimerScheduler Timers { get; set; } = null!;

    protected override void PreStart()
    {
        _position = _store.Load();
        _mediator.Tell(new Subscribe(_settings.Topic, Self));
        var every = _settings.AckEvery ?? TimeSpan.FromSeconds(5);
        Timers.StartPeriodicTimer("ack", AckTick.Instance, every);
        _log.Info("{0}: events applied up to {1} (journal entry {2}); reading what came after", _settings.Host, _position.Sequence, _position.JournalSequenceNr);
        CatchUp();
    }

    protected override void PostStop()
    {
        _stopping.Cancel();
        _stopping.Dispose();
    }

    private void Idle()
    {
        Receive<EventsCommitted>(Live);
        Receive<AckTick>(_ => Ack());
        Receive<SubscribeAck>(_ => { });
        Receive<CatchUpNow>(_ => CatchUp());
        Receive<EventsAvailable>(a =>
        {
            if (a.LastSequence > _position.Sequence)
            {
                _log.Info("{0}: the coordinator has events up to {1}, this host {2}; reading them from the journal", _settings.Host, a.LastSequence, _position.Sequence);
                CatchUp();
            }
        });
    }

    private void Busy()
    {
        Receive<WorkDone>(d =>
        {
            _log.Debug("{0}: events applied up to {1}", _settings.Host, d.Position.Sequence);
            _position = d.Position;
            Ack();
            Become(Idle);
            Stash.UnstashAll();
        });
        Receive<WorkFailed>(f =>
        {
            _log.Warning("{0}: applying events after {1} failed ({2}); trying again", _settings.Host, _position.Sequence, f.Cause.Message);
            Become(Idle);
            Stash.UnstashAll();
            Timers.StartSingleTimer("retry", CatchUpNow.Instance, _settings.RetryAfter ?? TimeSpan.FromSeconds(1));
        });
        Receive<AckTick>(_ => Ack());
        Receive<SubscribeAck>(_ => { });
        Receive<EventsAvailable>(_ => { }); // busy applying; the next acknowledgement asks again
        ReceiveAny(_ => Stash.Stash());
    }

    private void Live(EventsCommitted batch)
    {
        if (_dropLive?.Invoke(batch) == true)
        {
            return;
        }

        switch (_position.Plan(batch))
        {
            case BatchPlan.Apply a:
                Work(async ct =>
                {
                    await _applier.ApplyAsync(a.Batch.Events, ct).ConfigureAwait(false);
                    return Save(_position.After(a.Batch));
                });
                break;
            case BatchPlan.Gap g:
                _log.Info("{0}: events {1}-{2} did not arrive; reading them from the journal", _settings.Host, g.From, g.To);
                CatchUp();
                break;
        }
    }

    private void CatchUp()
    {
        var start = _position;
        Work(async ct =>
        {
            var position = start;
            foreach (var batch in await _journal.ReadAfterAsync(start.JournalSequenceNr, ct).ConfigureAwait(false))
            {
                if (position.Plan(batch) is BatchPlan.Gap g)
                {
                    // Read in order from the journal, a gap is history the coordinator forgot
                    // (older than its retention): nothing will fill it. The state itself will.
                    _log.Warning("{0}: events {1}-{2} are no longer in the journal (older than the history retention); a full reconcile pass replaces them", _settings.Host, g.From, g.To);
                    await _applier.ResyncAsync(ct).ConfigureAwait(false);
                    position = Save(position.Before(batch));
                }

                if (position.Plan(batch) is BatchPlan.Apply a)
                {
                    await _applier.ApplyAsync(a.Batch.Events, ct).ConfigureAwait(false);
                    position = Save(position.After(a.Batch));
                }
            }

            return position;
        });
    }

    private AppliedPosition Save(AppliedPosition p)
    {
        _store.Save(p);
        return p;
    }

    private void Work(Func<CancellationToken, Task<AppliedPosition>> work)
    {
        Become(Busy);
        var ct = _stopping.Token;
        Task.Run(() => work(ct), ct).PipeTo(Self, success: p => new WorkDone(p), failure: e => new WorkFailed(e));
    }

    private void Ack() => _coordinator.Tell(new HostApplied(_settings.Host, _position.Sequence, _time.GetUtcNow()));

    private sealed record WorkDone(AppliedPosition Position);

    private sealed record WorkFailed(Exception Cause);

    private sealed record AckTick
    {
        public static AckTick Instance { get; } = new();
    }

    private sealed record CatchUpNow
    {
        public static CatchUpNow Instance { get; } = new();
    }
}
#pragma warning restore CA1001
