using System.Collections.Immutable;

namespace VgMesh.Cluster;

/// <summary>An operation as submitted. <see cref="Id"/> is the caller's idempotency key.</summary>
public sealed record OperationRequest(string Id, string Kind, string Payload, string SubmittedBy);

public enum OperationStatus { Succeeded, Failed, Cancelled }

/// <summary>The one result an operation gets, recorded with the generation of the lease it ran under.</summary>
/// <param name="LastEventSequence">The sequence number of the last cluster event this operation committed (or of the last before it): a host that applied it is up to date with it.</param>
public sealed record OperationResult(
    string Id,
    OperationStatus Status,
    string Message,
    string? Data,
    string CompletedBy,
    long Generation,
    DateTimeOffset CompletedAt,
    long LastEventSequence);

/// <summary>One change the cluster agreed on, as every host receives it.</summary>
/// <param name="Kind">What happened (<c>lv.created</c>, <c>lv.extended</c>...).</param>
/// <param name="Subject">What it happened to (<c>vg/lv</c>).</param>
/// <param name="VgSeqno">The VG metadata sequence number after the change, when it changed metadata.</param>
public sealed record ClusterEvent(string Kind, string Subject, string? Data, long? VgSeqno, string? OperationId, string Host, DateTimeOffset Time);

/// <summary>A cluster event with its place in the one numbered sequence, and the generation it was committed under.</summary>
public sealed record SequencedEvent(long Sequence, long Generation, ClusterEvent Event);

public enum ClaimMode { Exclusive, Shared }

/// <summary>Who may have an LV active: one host exclusively, or any number shared.</summary>
public sealed record Claim(string Lv, ClaimMode Mode, ImmutableSortedSet<string> Hosts, long Generation, DateTimeOffset Since);

public enum ClaimChangeKind
{
    /// <summary>Host gets the LV (exclusive or shared, by <see cref="ClaimChange.Mode"/>).</summary>
    Grant,

    /// <summary>Host gives the LV up.</summary>
    Release,

    /// <summary>An exclusive claim moves from <see cref="ClaimChange.From"/> to <see cref="ClaimChange.Host"/>; the old holder deactivates before the new one activates.</summary>
    Handoff,

    /// <summary>The LV is gone: every claim on it ends.</summary>
    Drop,

    /// <summary>The LV was renamed from <see cref="ClaimChange.From"/> to <see cref="ClaimChange.Lv"/>: its claim goes with it.</summary>
    Move,
}

/// <summary>A change to the claims, recorded with an operation's result.</summary>
public sealed record ClaimChange(ClaimChangeKind Kind, string Lv, string Host, ClaimMode Mode = ClaimMode.Exclusive, string? From = null)
{
    public static ClaimChange Grant(string lv, string host, ClaimMode mode) => new(ClaimChangeKind.Grant, lv, host, mode);

    public static ClaimChange Release(string lv, string host) => new(ClaimChangeKind.Release, lv, host);

    public static ClaimChange Handoff(string lv, string from, string to) => new(ClaimChangeKind.Handoff, lv, to, ClaimMode.Exclusive, from);

    public static ClaimChange Drop(string lv) => new(ClaimChangeKind.Drop, lv, "");

    public static ClaimChange Move(string from, string to) => new(ClaimChangeKind.Move, to, "", ClaimMode.Exclusive, from);
}
