using Microsoft.Extensions.Logging;
using VgMesh.Agent.Reconciling;
using VgMesh.Lvm;

namespace VgMesh.Agent.Operations;

/// <summary>
/// Runs, on the host where an LV is active, the one command a coordinator delegated to it:
/// checks the coordinator's lease owner and generation against the lease row, then runs the
/// command under that permit. The check comes last, right before the command: the permit holds
/// only for the lease's time left less the margin (a few seconds), and waiting for this host's
/// pass and reading its LVs first used it all up in a loaded lab host (the CI of 2026-12-06 saw
/// a snapshot's removal refused as "older than its safe margin").
/// </summary>
public sealed partial class StepRunner(LvmDriver lvm, ExtendOperation extend, AgentCluster cluster, LocalSteps localSteps, HostActivity activity, FencedSet fenced, AgentOptions options, TimeProvider time, ILogger<StepRunner> logger)
{
    public async Task<StepResult> RunAsync(DelegatedStep step, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(step);
        var lv = new LvRef(options.VolumeGroup, LvmNames.ValidateLv(step.Args.Lv));
        LogDelegated(logger, step.Kind, lv.FullName, step.Coordinator, step.FencingToken);
        // Not beside a pass or a handoff here: the command changes what is active here.
        await activity.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            await RefuseFencedAsync(step, lv, ct).ConfigureAwait(false);
            return await RunHereAsync(step, lv, () => DelegatedPermit.VerifyAsync(cluster, step, time, ct), ct).ConfigureAwait(false);
        }
        finally
        {
            activity.Release();
        }
    }

    /// <summary>
    /// A fenced LV keeps its error table until an unfence: every one of these commands on it, or
    /// on a snapshot of it, reloads its real table (the short torture of 2026-12-06 saw a merge
    /// delegated to a host that had fenced the origin after its agent restarted cut off: the
    /// merge made the origin live again there while the fence was still recorded).
    /// </summary>
    private async Task RefuseFencedAsync(DelegatedStep step, LvRef lv, CancellationToken ct)
    {
        var fencedHere = fenced.Current;
        if (fencedHere.Count == 0)
        {
            return;
        }

        var origin = step.Kind is OperationKinds.Merge or OperationKinds.Remove
            ? (await lvm.ListLvsAsync(lv.Vg, ct).ConfigureAwait(false)).FirstOrDefault(l => l.Name == lv.Lv)?.Origin : null;
        if ((fencedHere.Contains(lv.Lv) ? lv.Lv : origin is not null && fencedHere.Contains(origin) ? origin : null) is { } which)
        {
            throw Fenced(new LvRef(lv.Vg, which), step.Kind, options.Host);
        }
    }

    /// <summary>The refusal of a command that would load a fenced LV's real table back on <paramref name="host"/>.</summary>
    public static OperationRefused Fenced(LvRef lv, string kind, string host) =>
        new("fenced", $"{lv.FullName} is fenced on {host} (its I/O fails there): the {kind} would load its real table back. Once {host} holds its claim, run 'vgmesh lv unfence {lv.Lv}' there, then retry");

    /// <param name="permitNow">The coordinator's lease checked now: called right before each command.</param>
    private async Task<StepResult> RunHereAsync(DelegatedStep step, LvRef lv, Func<Task<DelegatedPermit>> permitNow, CancellationToken ct)
    {
        switch (step.Kind)
        {
            case OperationKinds.Extend:
                var (extended, seqno) = await extend.ExtendHereAsync(lv, step.Args, async () => await permitNow().ConfigureAwait(false), ct).ConfigureAwait(false);
                localSteps.Ran(step.OperationId);
                return new StepResult($"{extended}, where it is active", seqno);
            case OperationKinds.Snapshot:
                var snapshot = await lvm.CreateSnapshotAsync(lv, step.Args.NewName!, step.Args.SizeBytes, step.Args.ChunkBytes, step.Args.Tags, await permitNow().ConfigureAwait(false), ct).ConfigureAwait(false);
                return new StepResult(step.Args.SizeBytes is null
                    ? $"created thin snapshot {lv.Vg}/{step.Args.NewName} of {lv.FullName} on {options.Host}, where its pool is active"
                    : $"created snapshot {lv.Vg}/{step.Args.NewName} of {lv.FullName} on {options.Host}, where the origin is active", snapshot);
            case OperationKinds.Merge:
                var merged = await lvm.MergeSnapshotAsync(lv, await permitNow().ConfigureAwait(false), ct).ConfigureAwait(false);
                var after = (await lvm.ListLvsAsync(options.VolumeGroup, ct).ConfigureAwait(false)).Any(l => l.Name == lv.Lv);
                return new StepResult($"merging {lv.FullName} into its origin on {options.Host}{(after ? " (deferred by LVM until the origin is next activated: it is open)" : "")}", merged);
            case OperationKinds.Remove:
                // Only a snapshot of an origin active here, or a thin volume of a pool active
                // here, is removed on a coordinator's behalf.
                var target = (await lvm.ListLvsAsync(lv.Vg, ct).ConfigureAwait(false)).FirstOrDefault(l => l.Name == lv.Lv);
                if (target is null || !(target.IsSnapshot || target.IsThin))
                {
                    throw new BadRequest($"{lv.FullName} is neither a snapshot nor a thin volume; only their removal runs where their origin or pool is active");
                }

                var removed = await lvm.RemoveLvAsync(lv, await permitNow().ConfigureAwait(false), ct).ConfigureAwait(false);
                localSteps.Ran(step.OperationId);
                return new StepResult(target.IsSnapshot
                    ? $"removed snapshot {lv.FullName} on {options.Host}, where its origin is active"
                    : $"removed thin volume {lv.FullName} on {options.Host}, where its pool is active", removed);
            default:
                throw new BadRequest($"'{step.Kind}' is not a step a coordinator delegates");
        }
    }

    [LoggerMessage(EventId = 3202, Level = LogLevel.Information, Message = "running {Kind} of {Subject} for coordinator {Coordinator} (token {Token})")]
    private static partial void LogDelegated(ILogger logger, string kind, string subject, string coordinator, long token);
}
