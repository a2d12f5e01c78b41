using VgMesh.Cluster;
using VgMesh.Lvm;
using VgMesh.Lvm.Commands;
using VgMesh.Lvm.DeviceMapper;
using VgMesh.Lvm.Reports;

namespace VgMesh.Agent.Operations;

/// <summary>
/// Removes an LV that is active nowhere; its claim goes with it. A classic snapshot of an origin
/// active on one host is removed in that host's kernel (delegated there), where its
/// copy-on-write runs: rotating a sync or backup snapshot needs no downtime of the origin. A
/// thin volume is removed where its pool is active.
/// </summary>
public sealed class RemoveOperation(LvmDriver lvm, DmSetup dm, Placement placement, ClaimCache claims, AgentOptions options) : IVolumeOperation, IRunsUnderLvmLock
{
    public IReadOnlyCollection<string> Kinds { get; } = [OperationKinds.Remove];

    /// <summary>
    /// lvmlockd mode: an LV active nowhere is removed here, lvremove taking its lock. Active here
    /// (lvremove --yes would deactivate it), a snapshot (removed in its origin's holder's kernel)
    /// or active on another host (LVM refuses: the lock is that host's): the coordinator's queue,
    /// which says where it is active or delegates (at once where this host's last claims give the LV
    /// to another host).
    /// </summary>
    public async Task<OperationDone?> RunHereAsync(LvRef lv, LvOperation args, string operationId, MetadataWritePermit permit, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(lv);
        if (claims.HeldElsewhere(lv.Lv, options.Host) || await dm.ExistsAsync(LvRef.DmNameOf(lv.Vg, lv.Lv), ct).ConfigureAwait(false))
        {
            return null;
        }

        var all = await lvm.ListLvsAsync(lv.Vg, ct).ConfigureAwait(false);
        RefuseWithSnapshots(lv, all);
        if (all.FirstOrDefault(l => l.Name == lv.Lv) is { IsSnapshot: true })
        {
            return null;
        }

        try
        {
            var seqno = await lvm.RemoveLvAsync(lv, permit, ct).ConfigureAwait(false);
            return new OperationDone($"removed {lv.FullName} on {options.Host}", "lv.removed", [ClaimChange.Drop(lv.Lv)], seqno);
        }
        catch (LvmLockedByOtherHostException)
        {
            return null;
        }
        catch (LvmNotFoundException)
        {
            throw new LvNotFound(lv.FullName);
        }
    }

    /// <summary>lvremove --yes of an origin takes its snapshots with it (a template's clones, a backup chain's base): they must go first, each by name.</summary>
    private static void RefuseWithSnapshots(LvRef lv, IEnumerable<LogicalVolume> all)
    {
        var snapshots = all.Where(l => l.Origin == lv.Lv).Select(l => l.Name).Order(StringComparer.Ordinal).ToList();
        if (snapshots.Count > 0)
        {
            throw new OperationRefused("has-snapshots", $"{lv.FullName} has snapshots ({string.Join(", ", snapshots)}); remove them first (vgmesh lv remove NAME), or merge one (vgmesh lv merge NAME).");
        }
    }

    public async Task<OperationDone> RunAsync(OperationRun run, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(run);
        var lv = run.Lv;
        // The hosts' reports and this host's own device-mapper say where it is active, and
        // lvremove itself says when it is missing. Every host counts, the coordinator's own too:
        // lvremove --yes would remove an active LV here.
        var holders = await placement.ActiveOnAsync(run.Context, lv.Lv, ct).ConfigureAwait(false);
        var all = await lvm.ListLvsAsync(lv.Vg, ct).ConfigureAwait(false);
        RefuseWithSnapshots(lv, all);

        if (holders is [var holder] && all.FirstOrDefault(l => l.Name == lv.Lv) is { IsSnapshot: true })
        {
            if (holder != options.Host)
            {
                var ran = await placement.DelegateAsync(run, holder, OperationKinds.Remove, run.Args, ct).ConfigureAwait(false);
                return new OperationDone(ran.Message, "lv.removed", [ClaimChange.Drop(lv.Lv)], ran.VgSeqno);
            }

            var here = await lvm.RemoveLvAsync(lv, run.Permit, ct).ConfigureAwait(false);
            return new OperationDone($"removed snapshot {lv.FullName} on {options.Host}, where its origin is active", "lv.removed", [ClaimChange.Drop(lv.Lv)], here);
        }

        if (holders.Count > 0)
        {
            throw new LvInUse(holders, $"{lv.FullName} is active on {string.Join(", ", holders)}; deactivate it there first (vgmesh lv deactivate {lv.Lv}).");
        }

        // A thin volume is removed by a message to its pool: where the pool is active, else LVM
        // here would activate the pool a second time.
        if (all.FirstOrDefault(l => l.Name == lv.Lv) is { IsThin: true } thin)
        {
            var pool = await placement.PoolHoldersAsync(run.Context, thin, ct).ConfigureAwait(false);
            if (pool.Count > 1)
            {
                throw new LvInUse(pool, $"pool {lv.Vg}/{thin.PoolLv} of {lv.FullName} is active on {string.Join(", ", pool)}; a thin pool must be active on one host only. Deactivate its volumes on all but one host first.");
            }

            if (pool is [var poolHost] && poolHost != options.Host)
            {
                var ran = await placement.DelegateAsync(run, poolHost, OperationKinds.Remove, run.Args, ct).ConfigureAwait(false);
                return new OperationDone(ran.Message, "lv.removed", [ClaimChange.Drop(lv.Lv)], ran.VgSeqno);
            }

            if (pool is [_])
            {
                var here = await lvm.RemoveLvAsync(lv, run.Permit, ct).ConfigureAwait(false);
                return new OperationDone($"removed thin volume {lv.FullName} on {options.Host}, where its pool is active", "lv.removed", [ClaimChange.Drop(lv.Lv)], here);
            }
        }

        try
        {
            var seqno = await lvm.RemoveLvAsync(lv, run.Permit, ct).ConfigureAwait(false);
            return new OperationDone($"removed {lv.FullName}", "lv.removed", [ClaimChange.Drop(lv.Lv)], seqno);
        }
        catch (LvmNotFoundException) when (run.Recovered)
        {
            return new OperationDone($"{lv.FullName} is gone (removed before the coordinator changed)", "lv.removed", [ClaimChange.Drop(lv.Lv)]);
        }
        catch (LvmNotFoundException)
        {
            throw new LvNotFound(lv.FullName);
        }
    }
}
