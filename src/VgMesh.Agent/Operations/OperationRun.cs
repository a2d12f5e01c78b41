using System.Collections.Immutable;
using VgMesh.Cluster;
using VgMesh.Cluster.Coordinator;
using VgMesh.Lvm;

namespace VgMesh.Agent.Operations;

/// <summary>One queued operation as its handler sees it: the LV it names, its arguments, the coordinator's write permit, and the coordinator's context (claims, hosts' reports, whether it is a replay).</summary>
public sealed record OperationRun(LvRef Lv, LvOperation Args, LeaderPermit Permit, OperationContext Context)
{
    /// <summary>A previous coordinator may have run it in part: an LV already there (or already gone) is its work.</summary>
    public bool Recovered => Context.Recovered;
}

/// <summary>What an operation did: its answer, its event kind, its claim changes, and the <c>vg_seqno</c> it left (null: read it).</summary>
public sealed record OperationDone(string Message, string EventKind, ImmutableArray<ClaimChange> Claims = default, long? Seqno = null);
