using VgMesh.Lvm;
using VgMesh.Lvm.Commands;
using VgMesh.Lvm.DeviceMapper;

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

/// <summary>
/// The frame of a command run here under LVM's lock on an LV that may be active on this host
/// (an extend, a snapshot): the queue at once when it is not active here and this host's last
/// claims give it to another host (an LVM command lvmlockd refuses costs 0.6-1.3 s of lease I/O);
/// otherwise run as a step delegated here would be, not beside a pass or a handoff (the command
/// reloads this host's table) and never on an LV fenced here, whose real table it would load back
/// (the fence gave up the LV's sanlock lease, but lvmlockd still believes it holds the lock); the
/// queue after all when LVM refuses because another host holds the lock, with nothing written.
/// </summary>
public sealed class LocalLvCommand(DmSetup dm, FencedSet fenced, ClaimCache claims, Reconciling.HostActivity activity, AgentOptions options)
{
    /// <param name="run">The command; told whether the LV is active here.</param>
    public async Task<OperationDone?> RunAsync(LvRef lv, string kind, Func<bool, Task<OperationDone>> run, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(lv);
        ArgumentNullException.ThrowIfNull(run);
        var activeHere = await dm.ExistsAsync(LvRef.DmNameOf(lv.Vg, lv.Lv), ct).ConfigureAwait(false);
        if (!activeHere && claims.HeldElsewhere(lv.Lv, options.Host))
        {
            return null;
        }

        await activity.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (fenced.Current.Contains(lv.Lv))
            {
                throw StepRunner.Fenced(lv, kind, options.Host);
            }

            return await run(activeHere).ConfigureAwait(false);
        }
        catch (LvmLockedByOtherHostException)
        {
            return null;
        }
        finally
        {
            activity.Release();
        }
    }
}
