using System.Text.Json.Serialization;

namespace VgMesh.Coordination;

/// <summary>What an agent publishes about itself while its session lives.</summary>
public sealed record MemberInfo(
    string Host,
    IReadOnlyList<string> Addresses,
    string Version,
    DateTimeOffset StartedAt,
    IReadOnlyList<string> Capabilities);

public enum MembershipChangeKind { Joined, Left }

public sealed record MembershipChange(MembershipChangeKind Kind, string Host, MemberInfo? Member);

/// <summary>
/// Leadership as a visible state. <c>Fenced</c>: this host led and lost its session; its leader
/// work has been stopped and nothing it writes lands until it leads again.
/// </summary>
public enum LeadershipState { Follower, Campaigning, Leader, Fenced }

/// <summary>The leader read from the store: its fencing token and the lease time it has left at least.</summary>
public sealed record LeaderLease(string Host, long FencingToken, TimeSpan TimeLeft);

public sealed record LeadershipChange(LeadershipState State, long FencingToken, string Reason);

/// <summary>One change the cluster agreed on, as every peer receives it.</summary>
/// <param name="Kind">What happened (<c>lv.created</c>, <c>lv.extended</c>...).</param>
/// <param name="Subject">What it happened to (<c>vg/lv</c>).</param>
/// <param name="Data">Kind-specific JSON.</param>
/// <param name="VgSeqno">The VG metadata sequence number after the change, when it changed metadata.</param>
public sealed record ClusterEvent(
    string Kind,
    string Subject,
    string? Data,
    long? VgSeqno,
    string? OperationId,
    string Host,
    DateTimeOffset Time);

/// <summary>The events committed together at one revision; the revision is their sequence.</summary>
public sealed record EventBatch(long Revision, IReadOnlyList<ClusterEvent> Events);

/// <summary>How far a host has applied the event stream.</summary>
public sealed record HostProgress(string Host, long AppliedRevision, DateTimeOffset AppliedAt, long LagEvents, TimeSpan LagTime);

/// <summary>An operation as submitted. <see cref="Id"/> is the caller's idempotency key.</summary>
public sealed record OperationRequest(string Id, string Kind, string Payload, string SubmittedBy);

/// <summary>An operation in the queue; <see cref="Sequence"/> orders submissions cluster-wide.</summary>
/// <param name="Recovered">A previous leader claimed it and vanished before recording a result: the handler must re-read state before acting.</param>
public sealed record QueuedOperation(OperationRequest Request, long Sequence, DateTimeOffset SubmittedAt, bool Recovered);

public enum OperationStatus { Succeeded, Failed, Cancelled }

public sealed record OperationResult(
    string Id,
    OperationStatus Status,
    string Message,
    string? Data,
    string? CompletedBy,
    long FencingToken,
    DateTimeOffset CompletedAt)
{
    /// <summary>The revision the result (and its events) were committed at; peers that applied it are up to date.</summary>
    public long Revision { get; init; }
}

/// <summary>A catalog change written with an operation's result: a value, or null to delete the key.</summary>
public sealed record CatalogWrite(string Key, string? Value);

/// <summary>This host does not lead; <see cref="CurrentLeader"/> does (null when nobody does).</summary>
public sealed class NotLeaderException(string? currentLeader, string reason)
    : Exception(currentLeader is null
        ? $"this host is not the coordinator ({reason}) and no coordinator is elected now; retry when 'vgmesh cluster status' shows a leader."
        : $"this host is not the coordinator ({reason}); the coordinator is {currentLeader}: send the request there or through the operation queue.")
{
    public string? CurrentLeader { get; } = currentLeader;
}

/// <summary>An operation id was used before for a different request.</summary>
public sealed class OperationConflictException(string id)
    : Exception($"operation id '{id}' was already used for a different request; choose a new id for a new request.")
{
    public string Id { get; } = id;
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, UseStringEnumConverter = true)]
[JsonSerializable(typeof(MemberInfo))]
[JsonSerializable(typeof(ClusterEvent))]
[JsonSerializable(typeof(OperationRecord))]
[JsonSerializable(typeof(OperationResult))]
[JsonSerializable(typeof(AppliedMark))]
[JsonSerializable(typeof(ClaimRecord))]
internal sealed partial class CoordinationJsonContext : JsonSerializerContext;

internal sealed record OperationRecord(OperationRequest Request, DateTimeOffset SubmittedAt);

internal sealed record AppliedMark(long Revision, DateTimeOffset At);

internal sealed record ClaimRecord(string Host, long FencingToken, DateTimeOffset At);
