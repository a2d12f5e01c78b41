using System.Collections.Immutable;

namespace VgMesh.Cluster.Coordinator;

// The coordinator's messages: what agents ask of it, what it answers, and what it publishes.

/// <summary>Queue an operation. Answered with <see cref="OperationFinished"/> once it has its result (at once when it already has one), or <see cref="OperationRefused"/>.</summary>
public sealed record SubmitOperation(OperationRequest Request) : IClusterMessage;

/// <summary>
/// Record an operation that already ran outside the queue: in lvmlockd mode a change LVM's own VG
/// lock serializes (create, tag, an extend on the LV's holder, a remove of an LV active nowhere)
/// runs on the host where it was asked, which then gives the coordinator what it did. The
/// coordinator numbers its events, applies its claim changes, journals both with the request in one
/// entry and publishes the events, as for a queued operation. Answered with
/// <see cref="OperationFinished"/> (the recorded result; the result already recorded for a known
/// id), or <see cref="OperationRefused"/> (the id belongs to another request).
/// </summary>
public sealed record RecordOperation(OperationRequest Request, OperationOutcome Outcome) : IClusterMessage;

/// <summary>The operation's one result. A resubmission of the same id gets this same result.</summary>
public sealed record OperationFinished(OperationResult Result) : IClusterMessage;

/// <summary>The submission was not queued: nothing of it will run.</summary>
public sealed record OperationRefused(string Id, string Reason) : IClusterMessage;

public sealed record GetCoordinatorStatus : IClusterMessage
{
    public static GetCoordinatorStatus Instance { get; } = new();
}

/// <summary>How far one host has applied the event sequence, as it last told the coordinator.</summary>
public sealed record HostAck(string Host, long Sequence, DateTimeOffset At);

public sealed record CoordinatorStatus(
    string Host,
    long Generation,
    TimeSpan LeaseTimeLeft,
    int Pending,
    long LastEventSequence,
    ImmutableArray<Claim> Claims,
    ImmutableArray<HostAck> Applied,
    ImmutableArray<HostReport> Reports) : IClusterMessage;

/// <summary>A host has applied every event up to <paramref name="Sequence"/>. Answered with <see cref="EventsAvailable"/>.</summary>
public sealed record HostApplied(string Host, long Sequence, DateTimeOffset At) : IClusterMessage;

/// <summary>
/// The last event the coordinator has committed. A host behind it reads the rest from the
/// journal: the way a host learns of events whose live copies it never got, when no later
/// event comes to show the gap.
/// </summary>
public sealed record EventsAvailable(long LastSequence) : IClusterMessage;

/// <summary>
/// Published on the events topic after an operation's events are in the journal, in sequence
/// order. <paramref name="JournalSequenceNr"/> is the journal entry that holds them: a host that
/// finds a gap reads the journal from its last applied entry.
/// </summary>
public sealed record EventsCommitted(long JournalSequenceNr, ImmutableArray<SequencedEvent> Events) : IClusterMessage;

/// <summary>One LV a host has active (or has announced it is about to activate).</summary>
/// <param name="Announced">Not active yet: the host asked to activate it and was let; other hosts count it as active.</param>
public sealed record ReportedLv(string Lv, int OpenCount, bool Announced = false);

/// <summary>
/// What a host tells the coordinator of itself after every reconcile pass: the LVs active on it,
/// and the rest of its report (alerts, fenced LVs) as the agent's own JSON. Held in memory only,
/// like a session-bound key: a new coordinator asks every host again (<see cref="CoordinatorReady"/>).
/// </summary>
public sealed record HostReport(string Host, ImmutableArray<ReportedLv> Active, string Details, DateTimeOffset At) : IClusterMessage;

/// <summary>Published on the hosts topic when a host's report changed what it has active: a host waiting on a handoff looks again.</summary>
public sealed record HostReported(HostReport Report) : IClusterMessage;

/// <summary>Published on the hosts topic by a coordinator that just started: every host sends its report again.</summary>
public sealed record CoordinatorReady(string Host, long Generation) : IClusterMessage;

/// <summary>A host's sign of life, every second. Answered with <see cref="HostPong"/>; a host fences what it holds when answers stop (see <c>ContactKeeper</c>).</summary>
public sealed record HostPing(string Host, DateTimeOffset At) : IClusterMessage;

/// <param name="WantsReport">
/// This coordinator has no report from the pinging host: it sends one now. The hosts topic's
/// <see cref="CoordinatorReady"/> can miss a host whose subscription had not reached the new
/// coordinator's node yet, and a host that had not passed yet says nothing then.
/// </param>
public sealed record HostPong(string Coordinator, long Generation, bool WantsReport = false) : IClusterMessage;

/// <summary>
/// The activation guard: may <paramref name="Host"/> activate <paramref name="Lv"/> now? Yes when
/// its claim names the host and (exclusive) no other host reports the LV active; the answer
/// counts the LV as announced on the host from then on. Answered with <see cref="ActivationVerdict"/>.
/// </summary>
public sealed record CheckActivation(string Host, string Lv, bool Exclusive) : IClusterMessage;

/// <param name="Refusal">Null when the host may activate; otherwise why not (it looks again at its next pass).</param>
public sealed record ActivationVerdict(Claim? Claim, string? Refusal) : IClusterMessage;

/// <summary>
/// Which sanlock host id (1-2000) may <paramref name="Host"/> use for an lvmlockd VG? The one the
/// cluster recorded for it; else <paramref name="Proposed"/> (the host's lvmlocal.conf) when no other
/// host has it; else the lowest free one. Answered with <see cref="LockHostIdAnswer"/>.
/// </summary>
public sealed record AssignLockHostId(string Host, int? Proposed) : IClusterMessage;

/// <param name="HostId">The host's id; null when refused, or (no refusal either) when the host is to ask again shortly: a member has not told its own id yet.</param>
/// <param name="Refusal">Why the host may not use the id it has (another host's), or why none is left.</param>
public sealed record LockHostIdAnswer(string Host, int? HostId, string? Refusal) : IClusterMessage;

/// <summary>
/// Answered with <see cref="CoordinatorStatus"/> once every host of <paramref name="Hosts"/> has
/// acknowledged <paramref name="Sequence"/> (at once when they have): an answer waits on this
/// for a change to be applied everywhere. The asker's timeout bounds the wait.
/// </summary>
public sealed record WaitApplied(long Sequence, ImmutableArray<string> Hosts) : IClusterMessage;
