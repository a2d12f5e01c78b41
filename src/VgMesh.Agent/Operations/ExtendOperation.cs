using VgMesh.Lvm;
using VgMesh.Lvm.Commands;

namespace VgMesh.Agent.Operations;

/// <summary>
/// Grows an LV. No report is read first: growing is safe wherever the LV is active (each holder's
/// table grows before the answer), LVM adds a relative size under its own VG lock and refuses an
/// absolute one that would shrink, and a missing LV fails in the command itself.
/// </summary>
public sealed class ExtendOperation(LvmDriver lvm, Placement placement, LocalSteps localSteps, AgentOptions options) : IVolumeOperation
{
    public IReadOnlyCollection<string> Kinds { get; } = [OperationKinds.Extend];

    public async Task<OperationDone> RunAsync(OperationRun run, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(run);
        var (lv, args, op) = (run.Lv, run.Args, run.Context);
        // Active on one other host: its kernel reloads the table in the same command. Active on
        // several (shared): run here; every holder refreshes before the answer (the settle wait).
        var holders = await placement.ActiveOnAsync(op, lv.Lv, ct).ConfigureAwait(false);
        if (holders is [var holder] && holder != options.Host)
        {
            var ran = await placement.DelegateAsync(run, holder, OperationKinds.Extend, args, ct).ConfigureAwait(false);
            return new OperationDone(ran.Message, "lv.extended", default, ran.VgSeqno);
        }

        var (message, seqno) = await ExtendHereAsync(lv, args, run.Permit, ct).ConfigureAwait(false);
        if (holders is [var only] && only == options.Host)
        {
            localSteps.Ran(op.Request.Id); // active only here: LVM reloaded this host's table in the command
        }

        return new OperationDone(message, "lv.extended", default, seqno);
    }

    /// <summary>
    /// Runs an extend on this host as it was asked: a relative one adds to whatever size LVM
    /// finds; an absolute one equal to the current size changes nothing (a replay lands here).
    /// </summary>
    public async Task<(string Message, long? Seqno)> ExtendHereAsync(LvRef lv, LvOperation args, MetadataWritePermit permit, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(lv);
        ArgumentNullException.ThrowIfNull(args);
        var bytes = args.SizeBytes!.Value;
        try
        {
            var seqno = args.SizeSign > 0 ? await lvm.ExtendLvByAsync(lv, bytes, permit, ct).ConfigureAwait(false)
                : await lvm.ExtendLvAsync(lv, bytes, permit, ct).ConfigureAwait(false);
            return ($"extended {lv.FullName} {(args.SizeSign > 0 ? "by" : "to")} {bytes} bytes on {options.Host}", seqno);
        }
        catch (LvmSizeRefusedException e) when (e.Unchanged)
        {
            return ($"{lv.FullName} is already {bytes} bytes", null);
        }
        catch (LvmSizeRefusedException)
        {
            throw new ShrinkRefused($"extend of {lv.FullName} to {bytes} bytes would shrink it; use reduce (with the LV inactive everywhere).");
        }
        catch (LvmNotFoundException)
        {
            throw new LvNotFound(lv.FullName);
        }
    }
}
