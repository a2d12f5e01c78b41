using VgMesh.Lvm;

namespace VgMesh.Agent.Operations;

/// <summary>Shrinks an LV, only while it is active nowhere (no host's table may still map the space given back).</summary>
public sealed class ReduceOperation(LvmDriver lvm, Placement placement) : IVolumeOperation
{
    public IReadOnlyCollection<string> Kinds { get; } = [OperationKinds.Reduce];

    public async Task<OperationDone> RunAsync(OperationRun run, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(run);
        var (lv, args) = (run.Lv, run.Args);
        var current = await lvm.GetOrNotFoundAsync(lv, ct).ConfigureAwait(false);
        var target = args.SizeSign == 0 ? args.SizeBytes!.Value : current.SizeBytes - args.SizeBytes!.Value;
        if (target <= 0 || target >= current.SizeBytes)
        {
            throw new InvalidSize($"reduce of {lv.FullName} must end between 0 and its size {current.SizeBytes} bytes (asked {target}).");
        }

        var holders = await placement.ActiveOnAsync(run.Context, lv.Lv, ct).ConfigureAwait(false);
        if (holders.Count > 0 || current.Active)
        {
            throw new LvInUse(holders, $"shrinking {lv.FullName} while it is active is refused; deactivate it everywhere first.");
        }

        var reduced = await lvm.ReduceLvAsync(lv, target, run.Permit, ct).ConfigureAwait(false);
        return new OperationDone($"reduced {lv.FullName} to {target} bytes", "lv.reduced", default, reduced);
    }
}
