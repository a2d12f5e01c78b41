using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Event;
using Akka.Persistence;
using VgMesh.Cluster.Leases;

namespace VgMesh.Cluster.Coordinator;

/// <param name="Host">This agent's host name, recorded as the writer of every result.</param>
/// <param name="EventsTopic">The DistributedPubSub topic events are published on.</param>
/// <param name="SnapshotEvery">A snapshot of the state after this many journal entries, so recovery does not replay the whole history.</param>
/// <param name="ReportExpiry">A host silent this long no longer counts by its last report (once it is also out of the cluster for <paramref name="GoneGrace"/>): longer than the time after which a cut-off host fences itself.</param>
/// <param name="ReportWait">At start, how long the coordinator waits for every live host's report before it runs operations anyway (a host that has not reported by then counts by no report).</param>
/// <param name="HistoryRetention">How long completed operations (their ids, for resubmission) and the journal's rows are kept; null keeps them for good.</param>
/// <param name="HistoryEvery">How often the coordinator marks the journal and forgets what is older than the retention.</param>
/// <param name="GoneGrace">How long a host must have been out of the cluster (downed, removed) before its last report stops counting: the time for it to hear of its downing and fence.</param>
public sealed record CoordinatorSettings(
    string Host,
    string EventsTopic = CoordinatorSettings.DefaultEventsTopic,
    int SnapshotEvery = 500,
    string HostsTopic = CoordinatorSettings.DefaultHostsTopic,
    TimeSpan? ReportExpiry = null,
    TimeSpan? ReportWait = null,
    TimeSpan? HistoryRetention = null,
    TimeSpan? HistoryEvery = null,
    TimeSpan? GoneGrace = null,
    bool StorageFencing = false)
{
    public const string DefaultEventsTopic = "vgmesh.events";

    /// <summary>
    /// The operation the coordinator submits itself when storage fencing is on and the cluster has
    /// put out a host that holds or reported something: its handler preempts that host's
    /// registration on the LUN. Its payload is the host's name.
    /// </summary>
    public const string StorageFenceKind = "storage-fence";

    public const string DefaultHostsTopic = "vgmesh.hosts";

    public const string PersistenceId = "vgmesh-coordinator";
}

/// <summary>
/// The cluster's one coordinator: a cluster singleton that runs only while its node holds the
/// coordinator lease. It queues operations durably and idempotently, runs them one at a time
/// through the <see cref="IOperationHandler"/>, and records each result with its events and claim
/// changes in one journal entry, then publishes the events. Every journal entry carries the lease
/// generation; the lease is checked before each entry is written and before each operation
/// starts, and its loss cancels the running operation and stops this actor before anything else.
/// </summary>
public sealed class CoordinatorActor : ReceivePersistentActor, IWithTimers
{
    private readonly CoordinatorSettings _settings;
    private readonly IOperationHandler _handler;
    private readonly Func<ILeaseGuard?> _lease;
    private readonly Action? _leaseNotHeld;
    private readonly IActorRef _publisher;
    private readonly TimeProvider _time;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<string, List<IActorRef>> _waiters = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HostAck> _applied = new(StringComparer.Ordinal);
    private readonly List<(WaitApplied Wait, IActorRef Asker)> _applyWaiters = [];
    private readonly Func<IReadOnlyCollection<string>> _liveHosts;
    private readonly HostDirectory _hosts;
    private bool _reportsIn;
    private CoordinatorState _state = CoordinatorState.Empty;
    private ILeaseGuard? _guard;
    private long _deleteUpTo; // journal rows to delete once a snapshot holds the state past them
    private string? _running;
    private CancellationTokenSource? _runningCts;
    private readonly Func<string, bool>? _isGone;
    private readonly HashSet<string> _storageFencing = new(StringComparer.Ordinal); // hosts whose storage fence is queued or running
    private readonly HashSet<string> _askedLockHostId = new(StringComparer.Ordinal); // hosts that asked for a sanlock host id since this coordinator started
    private readonly Dictionary<string, long> _storageFenceFailed = new(StringComparer.Ordinal); // host -> when its last storage fence failed

    /// <param name="lease">The lease acquisition this node holds now (null when none).</param>
    /// <param name="publisher">Where events go: the DistributedPubSub mediator (a probe in tests).</param>
    /// <param name="liveHosts">The hosts that are cluster members now (Up): whose reports a new coordinator waits for.</param>
    /// <param name="isGone">Whether the cluster has put a host out (downed, exiting or removed): a silent host's report counts until it has been out for the grace.</param>
    /// <param name="leaseNotHeld">called when the coordinator finds no lease at its start, before it stops: the lease tells the singleton manager to acquire again</param>
    public CoordinatorActor(CoordinatorSettings settings, IOperationHandler handler, Func<ILeaseGuard?> lease, IActorRef publisher, TimeProvider time, Func<IReadOnlyCollection<string>>? liveHosts = null, Func<string, bool>? isGone = null, Action? leaseNotHeld = null)
    {
        _settings = settings;
        _handler = handler;
        _lease = lease;
        _leaseNotHeld = leaseNotHeld;
        _publisher = publisher;
        _time = time;
        _liveHosts = liveHosts ?? (() => []);
        _isGone = isGone;
        _hosts = new HostDirectory(time, settings.ReportExpiry ?? TimeSpan.FromSeconds(8), settings.GoneGrace ?? TimeSpan.Zero, isGone, settings.StorageFencing);

        Recover<SnapshotOffer>(offer => _state = (CoordinatorState)offer.Snapshot);
        Recover<ICoordinatorEvent>(e => _state = _state.Apply(e));
        Recover<RecoveryCompleted>(_ => Begin());

        Command<LeaseLost>(_ => StopForLostLease("the lease-lost signal"));
        Command<SubmitOperation>(Submit);
        Command<RecordOperation>(OnRecord);
        Command<HandlerDone>(Done);
        Command<HandlerFailed>(Failed);
        Command<HostApplied>(a =>
        {
            _hosts.Heard(a.Host);
            _applied[a.Host] = new HostAck(a.Host, a.Sequence, a.At);
            Sender.Tell(new EventsAvailable(_state.LastEventSequence));
            AnswerApplyWaiters();
        });
        Command<HostPing>(p =>
        {
            _hosts.Heard(p.Host);
            Sender.Tell(new HostPong(_settings.Host, _guard?.Generation ?? 0, WantsReport: _guard is not null && !_hosts.Reports.ContainsKey(p.Host)));
        });
        Command<HostReport>(OnReport);
        Command<CheckActivation>(OnCheckActivation);
        Command<AssignLockHostId>(OnAssignLockHostId);
        Command<WaitApplied>(w =>
        {
            _applyWaiters.Add((w, Sender));
            AnswerApplyWaiters();
        });
        Command<ReportsWaitOver>(_ => ReportsIn("the wait for reports ran out"));
        Command<HistoryTick>(_ => History());
        Command<OperationFinished>(_ => { }); // the answer to a storage fence this actor submitted itself
        Command<MembershipTick>(_ =>
        {
            FenceGoneHostsByStorage();
            // A report that stops counting is told as an empty one: a host waiting on a handoff
            // activates now, not at its next periodic pass.
            foreach (var host in _hosts.ObserveMembership())
            {
                _log.Info("host {0} has been silent and out of the cluster past the grace: its report no longer counts", host);
                _publisher.Tell(new Publish(_settings.HostsTopic, new HostReported(new HostReport(host, [], "", _time.GetUtcNow()))));
            }
        });
        Command<GetCoordinatorStatus>(_ => Sender.Tell(Status()));
        Command<GetState>(_ => Sender.Tell(_state));
        Command<SaveSnapshotSuccess>(s =>
        {
            DeleteSnapshots(new SnapshotSelectionCriteria(s.Metadata.SequenceNr - 1));
            if (_deleteUpTo > 0 && _deleteUpTo <= s.Metadata.SequenceNr)
            {
                // Recovery starts from this snapshot now: the rows before the retention are history only.
                DeleteMessages(_deleteUpTo);
                _deleteUpTo = 0;
            }
        });
        Command<DeleteMessagesSuccess>(d => _log.Info("coordinator journal: entries up to {0} deleted (older than the history retention)", d.ToSequenceNr));
        Command<DeleteMessagesFailure>(f => _log.Warning("coordinator journal: deleting entries up to {0} failed ({1}); the next round tries again", f.ToSequenceNr, f.Cause.Message));
        Command<SaveSnapshotFailure>(f => _log.Warning("coordinator snapshot at {0} failed: {1}", f.Metadata.SequenceNr, f.Cause.Message));
        Command<DeleteSnapshotsSuccess>(_ => { });
        Command<DeleteSnapshotsFailure>(_ => { });
    }

    public override string PersistenceId => CoordinatorSettings.PersistenceId;

    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>After recovery: take the lease's acquisition and mark the new generation in the journal before anything else is written.</summary>
    private void Begin()
    {
        var guard = _lease();
        if (guard is null)
        {
            _log.Warning("coordinator recovered without a held lease; stopping (the singleton manager starts it again once the lease is held)");
            _leaseNotHeld?.Invoke();
            Context.Stop(Self);
            return;
        }

        if (guard.Generation <= _state.Generation)
        {
            // A generation is handed out once; one that did not grow means this journal was
            // written by a later acquisition than the lease store knows of. Refuse to run.
            _log.Error("lease generation {0} is not above the journal's {1}; the lease store and the journal disagree, refusing to coordinate", guard.Generation, _state.Generation);
            Context.Stop(Self);
            return;
        }

        _guard = guard;
        var self = Self;
        guard.Lost.Register(() => self.Tell(LeaseLost.Instance));
        if (!Held())
        {
            return;
        }

        Persist(new CoordinatorStarted(guard.Generation, _settings.Host, _time.GetUtcNow()), e =>
        {
            _state = _state.Apply(e);
            _log.Info("coordinator started on {0}: lease generation {1}, {2} operations pending, last event {3}", _settings.Host, e.Generation, _state.Pending.Count, _state.LastEventSequence);

            // Reports lived in the last coordinator's memory: ask every host again, and run
            // nothing that reads them (operations, activations) until they are in.
            _publisher.Tell(new Publish(_settings.HostsTopic, new CoordinatorReady(_settings.Host, e.Generation)));
            Timers.StartSingleTimer("reports", ReportsWaitOver.Instance, _settings.ReportWait ?? TimeSpan.FromSeconds(3));
            Timers.StartPeriodicTimer("membership", MembershipTick.Instance, TimeSpan.FromMilliseconds(250));
            if (_settings.HistoryRetention is not null)
            {
                Timers.StartPeriodicTimer("history", HistoryTick.Instance, _settings.HistoryEvery ?? TimeSpan.FromHours(1));
            }

            CheckReportsIn();
        });
    }

    private void OnReport(HostReport r)
    {
        if (_hosts.Report(r))
        {
            _publisher.Tell(new Publish(_settings.HostsTopic, new HostReported(r)));
        }

        CheckReportsIn();
    }

    private void CheckReportsIn()
    {
        if (!_reportsIn && _hosts.NotReported(_liveHosts()).IsEmpty)
        {
            ReportsIn("every live host has reported");
        }
    }

    private void ReportsIn(string why)
    {
        if (_reportsIn || _guard is null)
        {
            return;
        }

        _reportsIn = true;
        _log.Info("coordinator on {0} runs operations: {1} ({2} reports)", _settings.Host, why, _hosts.Reports.Count);
        RunNext();
    }

    private void OnCheckActivation(CheckActivation c)
    {
        var claim = _state.Claims.GetValueOrDefault(c.Lv);
        string? refusal = null;
        if (!_reportsIn)
        {
            refusal = "the coordinator has just started and is waiting for the hosts' reports";
        }
        else if (claim is null || !claim.Hosts.Contains(c.Host))
        {
            refusal = $"the claim of {c.Lv} moved to {(claim is null || claim.Hosts.IsEmpty ? "nobody" : string.Join(", ", claim.Hosts))} meanwhile";
        }
        else if (c.Exclusive && _hosts.ActiveOn(c.Lv, except: c.Host) is { IsEmpty: false } others)
        {
            refusal = $"{string.Join(", ", others)} still report {c.Lv} active";
        }
        else if (c.Exclusive && _hosts.NotReported(_liveHosts(), except: c.Host) is { IsEmpty: false } silent)
        {
            // Operations run once the wait for reports runs out, but not an exclusive activation
            // while a live host is silent.
            refusal = $"{string.Join(", ", silent)} {(silent.Length == 1 ? "has" : "have")} not reported to this coordinator yet";
        }

        if (refusal is null)
        {
            _hosts.Announce(c.Host, c.Lv, _time.GetUtcNow());
        }

        Sender.Tell(new ActivationVerdict(claim, refusal));
    }

    private void AnswerApplyWaiters()
    {
        if (_applyWaiters.Count == 0)
        {
            return;
        }

        var status = Status();
        _applyWaiters.RemoveAll(w =>
        {
            if (w.Wait.Hosts.Any(h => !_applied.TryGetValue(h, out var a) || a.Sequence < w.Wait.Sequence))
            {
                return false;
            }

            w.Asker.Tell(status);
            return true;
        });
    }

    private void Submit(SubmitOperation m)
    {
        var r = m.Request;
        if (AnswerKnown(r) || !Held())
        {
            return; // no answer: the submitter's resubmission finds the next coordinator
        }

        var sender = Sender;
        Persist(new OperationAccepted(r, _guard!.Generation, _time.GetUtcNow()), e =>
        {
            _state = _state.Apply(e);
            Wait(r.Id, sender);
            RunNext();
        });
    }

    /// <summary>
    /// An id the coordinator knows gets what it has: a refusal when it named another request, the
    /// recorded result, or the wait for it. True when answered (or waiting).
    /// </summary>
    private bool AnswerKnown(OperationRequest r)
    {
        if (!_state.Operations.TryGetValue(r.Id, out var known))
        {
            return false;
        }

        if (known.Request.Kind != r.Kind || known.Request.Payload != r.Payload)
        {
            Sender.Tell(new OperationRefused(r.Id, $"operation id '{r.Id}' was already used for a different request; choose a new id for a new request."));
        }
        else if (known.Result is { } result)
        {
            Sender.Tell(new OperationFinished(result));
        }
        else
        {
            Wait(r.Id, Sender);
        }

        return true;
    }

    /// <summary>
    /// An operation that ran on its host under LVM's lock (lvmlockd mode): recorded like a queued
    /// one's result, in one entry with its request, under this coordinator's generation. Claim
    /// changes are checked against the claims as they stand now; a conflict is recorded as the
    /// operation's failure (its events stay: they say what LVM did).
    /// </summary>
    private void OnRecord(RecordOperation m)
    {
        if (AnswerKnown(m.Request) || !Held())
        {
            return; // no answer without the lease: the host asks the next coordinator
        }

        var outcome = m.Outcome;
        if (_state.CheckClaims(outcome.Claims) is { } conflict)
        {
            _log.Error("operation {0} run on {1}: claim change on {2} refused: {3}", m.Request.Id, m.Request.SubmittedBy, conflict.Lv, conflict.Reason);
            outcome = outcome with { Status = OperationStatus.Failed, Message = $"{conflict.Lv}: {conflict.Reason}", Claims = [] };
        }

        Wait(m.Request.Id, Sender);
        Record(m.Request.Id, outcome, ranOutside: m.Request);
    }

    private void OnAssignLockHostId(AssignLockHostId a)
    {
        _askedLockHostId.Add(a.Host);
        var (id, isNew, refusal) = _state.DecideLockHostId(a.Host, a.Proposed, [.. _liveHosts().Where(h => !_askedLockHostId.Contains(h))]);
        if (!isNew)
        {
            Sender.Tell(new LockHostIdAnswer(a.Host, id, refusal));
            return;
        }

        if (!Held())
        {
            return; // no answer: the host asks the next coordinator
        }

        var sender = Sender;
        Persist(new LockHostIdRecorded(a.Host, id!.Value, _guard!.Generation, _time.GetUtcNow()), e =>
        {
            _state = _state.Apply(e);
            _log.Info("sanlock host id {0} recorded for {1}", e.HostId, e.Host);
            sender.Tell(new LockHostIdAnswer(e.Host, e.HostId, null));
        });
    }

    private void Wait(string id, IActorRef who)
    {
        if (!_waiters.TryGetValue(id, out var list))
        {
            _waiters[id] = list = [];
        }

        if (!list.Contains(who))
        {
            list.Add(who);
        }
    }

    private void RunNext()
    {
        if (_running is not null || !_reportsIn || _state.NextPending is not { } next || !Held())
        {
            return;
        }

        var id = next.Request.Id;
        var recovered = next.Phase == OperationPhase.Started;
        _running = id;
        Persist(new OperationStarted(id, _guard!.Generation, _time.GetUtcNow()), e =>
        {
            _state = _state.Apply(e);
            var guard = _guard!;
            if (!Held())
            {
                return; // the lease went while the entry was written: the next coordinator runs it, as recovered
            }

            _runningCts = CancellationTokenSource.CreateLinkedTokenSource(guard.Lost);
            var context = new OperationContext(next.Request, next.Sequence, next.SubmittedAt, recovered, _state.Claims, guard, _hosts);
            var self = Self;
            RunHandler(context, _runningCts.Token).PipeTo(self, success: o => new HandlerDone(id, o), failure: ex => new HandlerFailed(id, ex));
        });
    }

    private async Task<OperationOutcome> RunHandler(OperationContext context, CancellationToken ct)
    {
        // Off the actor's thread: the handler runs LVM processes.
        await Task.Yield();
        return await _handler.HandleAsync(context, ct).ConfigureAwait(false);
    }

    private void Done(HandlerDone m)
    {
        if (m.Id != _running)
        {
            return;
        }

        var outcome = m.Outcome;
        if (_state.CheckClaims(outcome.Claims) is { } conflict)
        {
            // The handler decided on the claims as they stood; a conflict here is a bug, and
            // recording it would break the claim rules. Its events stay: they say what LVM did.
            _log.Error("operation {0}: claim change on {1} refused: {2}", m.Id, conflict.Lv, conflict.Reason);
            outcome = outcome with { Status = OperationStatus.Failed, Message = $"{conflict.Lv}: {conflict.Reason}", Claims = [] };
        }

        Record(m.Id, outcome);
    }

    private void Failed(HandlerFailed m)
    {
        if (m.Id != _running)
        {
            return;
        }

        var cause = m.Cause is AggregateException { InnerExceptions.Count: 1 } agg ? agg.InnerExceptions[0] : m.Cause;
        if (cause is LeaseLostException || (cause is OperationCanceledException && _guard?.Lost.IsCancellationRequested == true))
        {
            StopForLostLease($"operation {m.Id} stopped: {cause.Message}");
            return;
        }

        // An exception from a step is that step's failure; a resubmission gets this result.
        Record(m.Id, OperationOutcome.Failed(cause.Message));
    }

    /// <param name="ranOutside">The request of an operation its host ran (<see cref="RecordOperation"/>): journaled with its result, and the queue's running operation is not this one.</param>
    private void Record(string id, OperationOutcome outcome, OperationRequest? ranOutside = null)
    {
        if (!Held())
        {
            return;
        }

        var guard = _guard!;
        var now = _time.GetUtcNow();
        var result = new OperationResult(id, outcome.Status, outcome.Message, outcome.Data, ranOutside?.SubmittedBy ?? _settings.Host, guard.Generation, now, _state.LastEventSequence + outcome.Events.Length);
        Persist(new OperationCompleted(result, outcome.Events, outcome.Claims, guard.Generation, now, ranOutside), e =>
        {
            var first = _state.LastEventSequence + 1;
            _state = _state.Apply(e);
            if (ranOutside is null)
            {
                _running = null;
                _runningCts?.Dispose();
                _runningCts = null;
            }
            if (_state.Operations.TryGetValue(id, out var op) && op.Request.Kind == CoordinatorSettings.StorageFenceKind)
            {
                StorageFenceDone(op.Request.Payload, result);
            }

            if (!e.Events.IsEmpty)
            {
                var events = e.Events.Select((ev, i) => new SequencedEvent(first + i, e.Generation, ev)).ToImmutableArray();
                _publisher.Tell(new Publish(_settings.EventsTopic, new EventsCommitted(LastSequenceNr, events)));
            }

            if (_waiters.Remove(id, out var waiting))
            {
                foreach (var w in waiting)
                {
                    w.Tell(new OperationFinished(result));
                }
            }

            if (LastSequenceNr % _settings.SnapshotEvery == 0)
            {
                SaveSnapshot(_state);
            }

            RunNext();
        });
    }

    /// <summary>
    /// Storage fencing: every host the cluster has put out that holds a claim or has a report
    /// gets its registration on the LUN preempted, through an operation of its own (queued, run
    /// by the handler under the lease, recorded with a <c>host-fenced</c> event like any other).
    /// Until that operation succeeds the host's report keeps counting, so nothing it had active
    /// is given to another host; a failed fence is tried again 5 s later. Claims come from the
    /// journal, so a new coordinator fences a holder that went before it started.
    /// </summary>
    private void FenceGoneHostsByStorage()
    {
        if (!_settings.StorageFencing || _isGone is null || !_reportsIn || _guard is null)
        {
            return;
        }

        var owed = _state.Claims.Values.SelectMany(c => c.Hosts).Concat(_hosts.Reporters).Distinct(StringComparer.Ordinal)
            .Where(h => h != _settings.Host && !_storageFencing.Contains(h) && !_hosts.IsFencedByStorage(h) && _isGone(h))
            .Where(h => !_storageFenceFailed.TryGetValue(h, out var at) || _time.GetElapsedTime(at) > TimeSpan.FromSeconds(5))
            .Order(StringComparer.Ordinal)
            .ToList();
        foreach (var host in owed)
        {
            _storageFencing.Add(host);
            var id = $"storage-fence/{host}/{_guard.Generation}/{_time.GetUtcNow().ToUnixTimeMilliseconds()}";
            _log.Warning("host {0} is out of the cluster and holds or reported LVs: preempting its registration on the LUN (operation {1})", host, id);
            Self.Tell(new SubmitOperation(new OperationRequest(id, CoordinatorSettings.StorageFenceKind, host, _settings.Host)));
        }
    }

    private void StorageFenceDone(string host, OperationResult result)
    {
        _storageFencing.Remove(host);
        if (result.Status == OperationStatus.Succeeded)
        {
            _storageFenceFailed.Remove(host);
            _hosts.FencedByStorage(host);
            _log.Info("host {0} fenced by the storage ({1}): its report no longer counts", host, result.Message);
        }
        else
        {
            _storageFenceFailed[host] = _time.GetTimestamp();
            _log.Error("fencing host {0} by the storage failed: {1}; its LVs stay where they are, trying again in 5 s", host, result.Message);
        }
    }

    /// <summary>
    /// Marks the journal (when something was written since the last mark), and forgets the
    /// history older than the retention: the state first, in a journal entry of its own and a
    /// snapshot after it, then the journal's rows up to the newest mark older than the retention.
    /// </summary>
    private void History()
    {
        if (_settings.HistoryRetention is not { } retention || !Held())
        {
            return;
        }

        var now = _time.GetUtcNow();
        var before = now - retention;
        var generation = _guard!.Generation;
        var entries = new List<ICoordinatorEvent>();
        if (_state.Marks.IsEmpty || _state.Marks.Keys.Max() < LastSequenceNr - 1)
        {
            entries.Add(new HistoryMarked(LastSequenceNr, generation, now));
        }

        var upTo = _state.JournalWrittenBefore(before);
        if (_state.HasHistoryBefore(before))
        {
            entries.Add(new HistoryPruned(before, generation, now));
        }

        if (entries.Count == 0)
        {
            return;
        }

        PersistAll(entries, e =>
        {
            _state = _state.Apply(e);
            if (e is HistoryPruned)
            {
                _log.Info("coordinator history before {0:O} forgotten; journal entries up to {1} go once the snapshot is saved", before, upTo);
                _deleteUpTo = Math.Max(_deleteUpTo, upTo);
                SaveSnapshot(_state);
            }
        });
    }

    private CoordinatorStatus Status() => new(
        _settings.Host,
        _guard?.Generation ?? 0,
        _guard?.TimeLeft ?? TimeSpan.Zero,
        _state.Pending.Count,
        _state.LastEventSequence,
        [.. _state.Claims.Values.OrderBy(c => c.Lv, StringComparer.Ordinal)],
        [.. _applied.Values.OrderBy(a => a.Host, StringComparer.Ordinal)],
        [.. _hosts.Reports.Values.OrderBy(r => r.Host, StringComparer.Ordinal)]);

    /// <summary>True while the lease is held with time to spare; otherwise stops this actor and answers false.</summary>
    private bool Held()
    {
        if (_guard is not { } g)
        {
            StopForLostLease("no lease held");
            return false;
        }

        try
        {
            g.EnsureHeld();
            return true;
        }
        catch (LeaseLostException e)
        {
            StopForLostLease(e.Message);
            return false;
        }
    }

    private void StopForLostLease(string why)
    {
        if (_runningCts is { } cts)
        {
            cts.Cancel();
        }

        _log.Warning("coordinator on {0} stops: {1}", _settings.Host, why);
        Context.Stop(Self);
    }

    protected override void PostStop()
    {
        _runningCts?.Cancel();
        _runningCts?.Dispose();
        base.PostStop();
    }

    /// <summary>Answered with the whole <see cref="CoordinatorState"/>: for tests that compare a recovered state with the one before.</summary>
    internal sealed record GetState
    {
        public static GetState Instance { get; } = new();
    }

    private sealed record HandlerDone(string Id, OperationOutcome Outcome);

    private sealed record HandlerFailed(string Id, Exception Cause);

    private sealed record MembershipTick
    {
        public static MembershipTick Instance { get; } = new();
    }

    private sealed record HistoryTick
    {
        public static HistoryTick Instance { get; } = new();
    }

    private sealed record ReportsWaitOver
    {
        public static ReportsWaitOver Instance { get; } = new();
    }

    private sealed record LeaseLost
    {
        public static LeaseLost Instance { get; } = new();
    }
}
