using VgMesh.Coordination;
using VgMesh.Lvm.Commands;

namespace VgMesh.Agent.Operations;

/// <summary>
/// The coordinator's right to write LVM metadata: valid only while this host leads with at least
/// a third of its session TTL left, checked right before each command starts.
/// </summary>
public sealed class LeaderPermit(ICoordinator coordinator, string host, TimeSpan minimumLeaseLeft) : MetadataWritePermit
{
    public override string Holder => host;

    public override long FencingToken => coordinator.FencingToken;

    public override void EnsureValid() => coordinator.EnsureLeader(minimumLeaseLeft);
}
