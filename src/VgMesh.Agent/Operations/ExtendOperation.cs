using Microsoft.Extensions.Logging;
using VgMesh.Lvm;
using VgMesh.Lvm.Commands;
using VgMesh.Lvm.DeviceMapper;
using VgMesh.Lvm.OnDisk;

namespace VgMesh.Agent.Operations;

/// <summary>
/// Grows an LV. No report is read first: growing is safe wherever the LV is active (each holder's
/// table grows before the answer), LVM adds a relative size under its own VG lock and refuses an
/// absolute one that would shrink, and a missing LV fails in the command itself.
/// </summary>
public sealed partial class ExtendOperation(
    LvmDriver lvm, DmSetup dm, Reconciling.OnDiskMetadata onDisk, FencedSet fenced, Placement placement, LocalSteps localSteps, Lockd.LockdState lockd, LocalLvCommand local, AgentOptions options, ILogger<ExtendOperation> logger) : IVolumeOperation, IRunsUnderLvmLock
{
    public IReadOnlyCollection<string> Kinds { get; } = [OperationKinds.Extend];

    /// <summary>
    /// lvmlockd mode: lvextend takes the LV's lock, so it runs where the LV is active (LVM grows
    /// this host's table in the command) or where it is active nowhere. When another host holds
    /// the lock, LVM refuses before writing and the coordinator hands the extend to the holder;
    /// where this host's last claims already say another host holds it, the queue at once (an
    /// lvextend refused by lvmlockd took 0.6-1.3 s in the lab).
    /// </summary>
    public Task<OperationDone?> RunHereAsync(LvRef lv, LvOperation args, string operationId, MetadataWritePermit permit, CancellationToken ct) =>
        local.RunAsync(lv, OperationKinds.Extend, async activeHere =>
        {
            var (message, seqno) = await ExtendHereAsync(lv, args, permit, ct).ConfigureAwait(false);
            if (activeHere)
            {
                localSteps.Ran(operationId);
            }

            return new OperationDone(message, "lv.extended", default, seqno);
        }, ct);

    public async Task<OperationDone> RunAsync(OperationRun run, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(run);
        var (lv, args, op) = (run.Lv, run.Args, run.Context);
        // Active on one other host: its kernel reloads the table in the same command. Active on
        // several (shared): run here; every holder refreshes before the answer (the settle wait).
        // With lvmlockd, on one of the holders: only a host holding the LV's lock shared may
        // extend it (--lockopt shupdate).
        var holders = await placement.ActiveOnAsync(op, lv.Lv, ct).ConfigureAwait(false);
        var runOn = holders switch
        {
            [var one] when one != options.Host => one,
            { Count: > 1 } when lockd.Current is not null && !holders.Contains(options.Host) => holders[0],
            _ => null,
        };
        if (runOn is not null)
        {
            var ran = await placement.DelegateAsync(run, runOn, OperationKinds.Extend, args, ct).ConfigureAwait(false);
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
    public Task<(string Message, long? Seqno)> ExtendHereAsync(LvRef lv, LvOperation args, MetadataWritePermit permit, CancellationToken ct) =>
        ExtendHereAsync(lv, args, () => Task.FromResult(permit), ct);

    /// <param name="permitNow">The permit, asked for after this host's reads and right before the lvextend: a delegated step's lasts only the coordinator's lease's time left less the margin.</param>
    public async Task<(string Message, long? Seqno)> ExtendHereAsync(LvRef lv, LvOperation args, Func<Task<MetadataWritePermit>> permitNow, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(lv);
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(permitNow);
        var bytes = args.SizeBytes!.Value;
        var store = await StoreHereAsync(lv, ct).ConfigureAwait(false);
        var shared = await HeldSharedHereAsync(lv, ct).ConfigureAwait(false);
        try
        {
            var permit = await permitNow().ConfigureAwait(false);
            var seqno = args.SizeSign > 0 ? await lvm.ExtendLvByAsync(lv, bytes, permit, metadataOnly: store is not null, sharedUpdate: shared, ct).ConfigureAwait(false)
                : await lvm.ExtendLvAsync(lv, bytes, permit, metadataOnly: store is not null, sharedUpdate: shared, ct).ConfigureAwait(false);
            if (store is not null)
            {
                await GrowStoreAsync(lv, store, ct).ConfigureAwait(false);
            }

            return ($"extended {lv.FullName} {(args.SizeSign > 0 ? "by" : "to")} {bytes} bytes on {options.Host}", seqno);
        }
        catch (LvmSizeRefusedException e) when (e.Unchanged)
        {
            if (store is not null)
            {
                await GrowStoreAsync(lv, store, ct).ConfigureAwait(false); // a replay after the metadata, before the table
            }

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

    /// <summary>
    /// Whether lvmlockd holds the LV's lock shared on this host (the LV is active shared here, and
    /// maybe elsewhere): lvextend must then update under that lock. Its uuid from the device's
    /// uuid in sysfs, the lock from <c>lvmlockctl --info</c>; not asked outside an lvmlockd VG.
    /// </summary>
    private async Task<bool> HeldSharedHereAsync(LvRef lv, CancellationToken ct)
    {
        if (lockd.Current is null || dm.SysfsUuid(lv.DmName) is not { Length: > 32 } uuid)
        {
            return false;
        }

        var lvUuid = SanlockLeases.DashedUuid(uuid[^32..]);
        var info = await lvm.LockdInfoAsync(ct).ConfigureAwait(false);
        return info.Vg(lv.Vg)?.LvLocks.Any(l => l.LvUuid == lvUuid && l.Mode == "sh") == true;
    }

    /// <summary>
    /// The <c>-cow</c> layer of <paramref name="lv"/> when it is a classic snapshot active here,
    /// not fenced, in a VG without lvmlockd: its store can grow without LVM. LVM's extend of a
    /// snapshot suspends the origin and the snapshot to reload the store, which waits for every
    /// copy-on-write in flight; in a lab host under a container's writes that took most of a
    /// growth's second (issue #15). The kernel's snapshot target reads its store's size at each
    /// new chunk, so a bigger table on the store alone is all it needs (checked by hand:
    /// 12 MiB written past the old end landed in the grown store).
    /// </summary>
    private async Task<string?> StoreHereAsync(LvRef lv, CancellationToken ct)
    {
        var store = lv.DmName + "-cow";
        if (fenced.Current.Contains(lv.Lv) || dm.SysfsNames() is not { } names || !names.Contains(store) || !names.Contains(lv.DmName))
        {
            return null;
        }

        try
        {
            // Not with lvmlockd: LVM's LV lock and its refresh are LVM's.
            return await onDisk.ReadAsync(lv.Vg, ct).ConfigureAwait(false) is var (_, md) && md.LockType is null && md.Stores.ContainsKey(lv.Lv) ? store : null;
        }
        catch (Exception e) when (e is IOException or FormatException or UnauthorizedAccessException or LvmException)
        {
            return null; // LVM's own extend, as everywhere else
        }
    }

    /// <summary>
    /// Loads the store's table from the metadata just written, where it only adds to the live one;
    /// anything else (a store not of linear segments, a PV not known here) by LVM's refresh.
    /// </summary>
    private async Task GrowStoreAsync(LvRef lv, string store, CancellationToken ct)
    {
        string why;
        try
        {
            if (await onDisk.ReadAsync(lv.Vg, ct).ConfigureAwait(false) is not var (_, md))
            {
                why = "no metadata area can be read here";
            }
            else if (LinearTable.ForStore(md, lv.Lv, store, onDisk.PvNumber) is not { } next)
            {
                why = "its store is not made of linear segments on PVs known here";
            }
            else if (DmIoctl.ReadTable(store) is not { } live)
            {
                why = $"the table of {store} cannot be read";
            }
            else if (live.SequenceEqual(next))
            {
                return; // grown already (a replay)
            }
            else if (!LinearTable.Grows(live, next))
            {
                why = $"its table would not only grow ({live.Sum(l => l.LengthSectors)} to {next.Sum(l => l.LengthSectors)} sectors)";
            }
            else
            {
                await dm.ReloadAsync(store, next, ct).ConfigureAwait(false);
                return;
            }
        }
        catch (Exception e) when (e is IOException or FormatException or UnauthorizedAccessException or LvmException)
        {
            why = e.Message;
        }

        LogStoreByLvm(logger, lv.FullName, why);
        await lvm.RefreshAsync(lv, ct).ConfigureAwait(false);
    }

    [LoggerMessage(EventId = 3020, Level = LogLevel.Information, Message = "growing the store of snapshot {Lv} through LVM's refresh: {Reason}")]
    private static partial void LogStoreByLvm(ILogger logger, string lv, string reason);
}
