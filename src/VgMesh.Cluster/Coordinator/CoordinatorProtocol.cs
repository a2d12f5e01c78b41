using System.Collections.Immutable;

namespace VgMesh.Cluster.Coordinator;

// The coordinator's messages: what agents ask of it, what it answers, and what it publishes.

/// <summary>Queue an operation. Answered with <see cref="OperationFinished"/> once it has its result (at once when it already has one), or <see cref="OperationRefused"/>.</summary>
public sealed record SubmitOperation(OperationRequest Request) : IClusterMessage;

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
    ImmutableArray<HostAck> Applied) : IClusterMessage;

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
