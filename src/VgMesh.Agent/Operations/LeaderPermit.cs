using VgMesh.Cluster.Leases;
using VgMesh.Lvm.Commands;

namespace VgMesh.Agent.Operations;

/// <summary>
/// The coordinator's right to write LVM metadata: its lease acquisition, checked (held, with
/// more than the safety margin left) right before each command starts; its generation is the
/// fencing token the journal records with the command.
/// </summary>
public sealed class LeaderPermit(ILeaseGuard lease, string host) : MetadataWritePermit
{
    public override string Holder => host;

    public override long FencingToken => lease.Generation;

    public override void EnsureValid() => lease.EnsureHeld();
}
