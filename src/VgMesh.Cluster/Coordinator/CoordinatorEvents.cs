using System.Collections.Immutable;

namespace VgMesh.Cluster.Coordinator;

/// <summary>
/// What the coordinator persists in its journal. Every event carries the generation of the
/// lease it was written under: the fencing token, which recovery checks again
/// (<see cref="CoordinatorState.Apply"/>).
/// </summary>
public interface ICoordinatorEvent : IClusterMessage
{
    long Generation { get; }

    DateTimeOffset At { get; }
}

/// <summary>A coordinator began under a newly acquired lease generation, on <paramref name="Host"/>.</summary>
public sealed record CoordinatorStarted(long Generation, string Host, DateTimeOffset At) : ICoordinatorEvent;

/// <summary>An operation joined the queue (before the submitter was told so).</summary>
public sealed record OperationAccepted(OperationRequest Request, long Generation, DateTimeOffset At) : ICoordinatorEvent;

/// <summary>The coordinator is about to run an operation: a later coordinator that finds it without a result knows it may have run in part.</summary>
public sealed record OperationStarted(string Id, long Generation, DateTimeOffset At) : ICoordinatorEvent;

/// <summary>
/// A mark in the journal: every entry up to <paramref name="JournalSequenceNr"/> was written
/// before <paramref name="At"/>. The coordinator writes one now and then, so that history older
/// than the retention can later be deleted by journal sequence number.
/// </summary>
public sealed record HistoryMarked(long JournalSequenceNr, long Generation, DateTimeOffset At) : ICoordinatorEvent;

/// <summary>
/// History before <paramref name="Before"/> is forgotten: the results of operations completed
/// before it (their ids may be used again) and the marks older than it. The journal's rows up to
/// the newest such mark are deleted once a snapshot holds the state after this entry.
/// </summary>
public sealed record HistoryPruned(DateTimeOffset Before, long Generation, DateTimeOffset At) : ICoordinatorEvent;

/// <summary>
/// <paramref name="Host"/> uses sanlock host id <paramref name="HostId"/> in the lvmlockd VG from now
/// on: no other host is given it while the record stands.
/// </summary>
public sealed record LockHostIdRecorded(string Host, int HostId, long Generation, DateTimeOffset At) : ICoordinatorEvent;

/// <summary>An operation's one result, with the cluster events and the claim changes it made, all in one journal entry.</summary>
/// <param name="Request">
/// Set when the operation ran outside the queue (<see cref="RecordOperation"/>: in lvmlockd mode, on
/// the host where it was asked, under LVM's own VG lock): the request is recorded with its result
/// in this one entry, never queued, so no later coordinator runs it. Null for a queued operation,
/// whose request is in its <see cref="OperationAccepted"/> entry (and in every entry written before
/// 2026-12-07).
/// </param>
public sealed record OperationCompleted(
    OperationResult Result,
    ImmutableArray<ClusterEvent> Events,
    ImmutableArray<ClaimChange> Claims,
    long Generation,
    DateTimeOffset At,
    OperationRequest? Request = null) : ICoordinatorEvent;
