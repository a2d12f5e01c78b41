using VgMesh.Cluster;
using VgMesh.Lvm;

namespace VgMesh.Agent.Operations;

/// <summary>Removes an LV that is active nowhere; its claim goes with it.</summary>
public sealed class RemoveOperation(LvmDriver lvm, Placement placement) : IVolumeOperation
{
    public IReadOnlyCollection<string> Kinds { get; } = [OperationKinds.Remove];

    public async Task<OperationDone> RunAsync(OperationRun run, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(run);
        var lv = run.Lv;
        // No report first (one LVM process less): the hosts' reports and this host's own
        // device-mapper say where it is active, and lvremove itself says when it is missing.
        // Every host counts, the coordinator's own too: lvremove --yes would remove an active LV here.
        var holders = await placement.ActiveOnAsync(run.Context, lv.Lv, ct).ConfigureAwait(false);
        if (holders.Count > 0)
        {
            throw new LvInUse(holders, $"{lv.FullName} is active on {string.Join(", ", holders)}; deactivate it there first (vgmesh lv deactivate {lv.Lv}).");
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
