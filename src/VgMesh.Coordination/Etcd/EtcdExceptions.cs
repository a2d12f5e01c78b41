namespace VgMesh.Coordination.Etcd;

/// <summary>etcd answered with an error. <see cref="GrpcCode"/> is the gRPC status code it carries.</summary>
public class EtcdException(string message, int grpcCode = 0, Exception? inner = null) : Exception(message, inner)
{
    public int GrpcCode { get; } = grpcCode;

    /// <summary>gRPC NOT_FOUND: the lease (or key) does not exist any more.</summary>
    public bool IsNotFound => GrpcCode == 5;

    /// <summary>gRPC UNAVAILABLE or DEADLINE_EXCEEDED: no quorum, no leader, or the member is going away.</summary>
    public bool IsTransient => GrpcCode is 14 or 4 || Message.Contains("leader", StringComparison.OrdinalIgnoreCase) || Message.Contains("timed out", StringComparison.OrdinalIgnoreCase);
}

/// <summary>No etcd endpoint answered: every member is down or unreachable, or there is no quorum.</summary>
public sealed class EtcdUnavailableException(string message, Exception? inner = null) : EtcdException(message, 14, inner);

/// <summary>
/// A non-idempotent request (a transaction) may or may not have been applied: the request went
/// out and no answer came back. Never retried automatically: settle it by reading back the key
/// the operation id names.
/// </summary>
public sealed class EtcdOutcomeUnknownException(string message, Exception? inner = null) : EtcdException(message, 4, inner);

/// <summary>A watch asked for a revision that etcd has compacted away: re-list, then watch again.</summary>
public sealed class EtcdCompactedException(long compactRevision)
    : EtcdException($"etcd compacted history up to revision {compactRevision}: re-list the keys, then watch from the listed revision.", 11)
{
    public long CompactRevision { get; } = compactRevision;
}
