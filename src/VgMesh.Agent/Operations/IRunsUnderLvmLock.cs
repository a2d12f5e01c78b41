using VgMesh.Lvm;
using VgMesh.Lvm.Commands;

namespace VgMesh.Agent.Operations;

/// <summary>
/// An operation that can run on the host where it is asked, outside the coordinator's queue,
/// when LVM's own locks serialize it (lvmlockd mode, issue #16): every command takes the VG's
/// lock from lvmlockd for its write, and the LV's lock for what it does to the LV, so two hosts'
/// changes cannot interleave and an LV active on another host is refused by LVM before anything
/// is written. The host records what it did with the coordinator afterwards.
/// </summary>
public interface IRunsUnderLvmLock
{
    /// <summary>Runs the operation here; null when it must go through the queue instead (the LV's lock is another host's, or the coordinator's view of the cluster is needed), with nothing written.</summary>
    Task<OperationDone?> RunHereAsync(LvRef lv, LvOperation args, string operationId, MetadataWritePermit permit, CancellationToken ct);
}
