using System.Collections.Immutable;
using VgMesh.Cluster.Leases;

namespace VgMesh.Cluster.Coordinator;

/// <summary>
/// One operation as the coordinator hands it to its handler.
/// </summary>
/// <param name="Recovered">A coordinator started it before and vanished without a result: it may have run in part, so the handler re-reads LVM before it acts.</param>
/// <param name="Claims">The claims as they stand before this operation.</param>
/// <param name="Lease">The lease the coordinator holds: checked right before every metadata-changing LVM command, its generation recorded with the write.</param>
/// <param name="Hosts">The hosts' reports and how long each has been silent, live (they change while the operation runs).</param>
public sealed record OperationContext(
    OperationRequest Request,
    long Sequence,
    DateTimeOffset SubmittedAt,
    bool Recovered,
    ImmutableDictionary<string, Claim> Claims,
    ILeaseGuard Lease,
    HostDirectory Hosts);

/// <summary>What an operation did: its result, its cluster events and the claim changes that go with it.</summary>
public sealed record OperationOutcome(
    OperationStatus Status,
    string Message,
    string? Data,
    ImmutableArray<ClusterEvent> Events,
    ImmutableArray<ClaimChange> Claims)
{
    public static OperationOutcome Failed(string message) => new(OperationStatus.Failed, message, null, [], []);
}

/// <summary>
/// What the coordinator does with an operation (the agent's LVM work). Called one at a time, in
/// submission order. The token is cancelled the moment the lease is lost: stop at once, and
/// write nothing more.
/// </summary>
public interface IOperationHandler
{
    Task<OperationOutcome> HandleAsync(OperationContext context, CancellationToken leaseLost);
}
