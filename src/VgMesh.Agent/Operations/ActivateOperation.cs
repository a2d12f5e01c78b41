using System.Collections.Immutable;
using Microsoft.Extensions.Logging;
using VgMesh.Cluster;
using VgMesh.Cluster.Coordinator;
using VgMesh.Agent.Reconciling;
using VgMesh.Lvm;

namespace VgMesh.Agent.Operations;

/// <summary>
/// A claim to have an LV active on a host, exclusive or shared. The coordinator only records the
/// claim; each host's reconciler acts on it (the old holder deactivates, then the new one
/// activates through the activation guard). A claim moves off a holder that vanished only once
/// that holder has surely fenced itself.
/// </summary>
public sealed partial class ActivateOperation(LvmDriver lvm, OnDiskMetadata disk, Placement placement, AgentCluster cluster, AgentOptions options, TimeProvider time, ILogger<ActivateOperation> logger) : IVolumeOperation
{
    /// <summary>After this long waiting for a vanished holder to be downed, the activation is refused (the queue waits behind it).</summary>
    private static readonly TimeSpan TakeoverWaitLimit = TimeSpan.FromMinutes(2);

    public IReadOnlyCollection<string> Kinds { get; } = [OperationKinds.Activate];

    public async Task<OperationDone> RunAsync(OperationRun run, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(run);
        var (lv, args, op) = (run.Lv, run.Args, run.Context);
        var (seqno, plain) = await disk.WithLvAsync(lvm, lv, ct).ConfigureAwait(false);
        var host = args.Host ?? throw new BadRequest("activate needs a host");
        if (!cluster.IsLive(host))
        {
            throw new HostDown(host, $"host '{host}' is not an up, reachable member of the cluster; 'vgmesh host list' shows who is.");
        }

        if (!plain)
        {
            await RefuseThinAwayFromItsPoolAsync(run, host, ct).ConfigureAwait(false);
        }

        var current = op.Claims.GetValueOrDefault(lv.Lv);
        var exclusiveHolder = current is { Mode: ClaimMode.Exclusive, Hosts: [var h] } ? h : null;
        var vanished = exclusiveHolder is not null && exclusiveHolder != host && !cluster.IsLive(exclusiveHolder) ? exclusiveHolder : null;
        if (vanished is not null)
        {
            await WaitFencedAsync(op, vanished, lv, ct).ConfigureAwait(false);
        }

        run.Permit.EnsureValid();
        if (!args.Exclusive)
        {
            if (exclusiveHolder is not null && exclusiveHolder != host && cluster.IsLive(exclusiveHolder))
            {
                throw new LvInUse([exclusiveHolder], $"{lv.FullName} is claimed exclusively by {exclusiveHolder}; deactivate it there before sharing it (vgmesh lv deactivate {lv.Lv}).");
            }

            // From exclusive (this host's, or a gone holder's after its deadline) to shared: the
            // exclusive claim ends first, as the claim rules want.
            ImmutableArray<ClaimChange> changes = exclusiveHolder is not null
                ? [ClaimChange.Release(lv.Lv, exclusiveHolder), ClaimChange.Grant(lv.Lv, host, ClaimMode.Shared)]
                : [ClaimChange.Grant(lv.Lv, host, ClaimMode.Shared)];
            var sharedBy = (current?.Mode == ClaimMode.Shared ? current.Hosts : []).Add(host);
            return new OperationDone($"{lv.FullName} shared by {string.Join(", ", sharedBy)}", "lv.claimed", changes, seqno);
        }

        // Not the vanished holder waited for above: whatever it had open is fenced (by itself, or
        // by the storage before the new holder's activation goes on, which waits for its report
        // to stop counting), and its last report may still say open (a lab test of 2026-12-06
        // refused a move off a holder whose agent was killed while a writer held the LV open).
        var openElsewhere = op.Hosts.Reports.Values.Where(r => r.Host != host && r.Host != vanished && r.Active.Any(a => a.Lv == lv.Lv && a.OpenCount > 0)).Select(r => r.Host).Order(StringComparer.Ordinal).ToList();
        if (openElsewhere.Count > 0 && !args.Wait)
        {
            throw new LvInUse(openElsewhere, $"{lv.FullName} is open on {string.Join(", ", openElsewhere)}; close it there, or pass --wait to hand it over when it is closed.");
        }

        ImmutableArray<ClaimChange> claim = current switch
        {
            { Mode: ClaimMode.Exclusive, Hosts: [var from] } when from != host => [ClaimChange.Handoff(lv.Lv, from, host)],
            { Mode: ClaimMode.Shared, Hosts.IsEmpty: false } shared => [.. shared.Hosts.Where(o => o != host).Select(o => ClaimChange.Release(lv.Lv, o)), ClaimChange.Grant(lv.Lv, host, ClaimMode.Exclusive)],
            _ => [ClaimChange.Grant(lv.Lv, host, ClaimMode.Exclusive)],
        };
        return new OperationDone($"{lv.FullName} claimed exclusively by {host}", "lv.claimed", claim, seqno);
    }

    /// <summary>
    /// The exclusive holder is not a live member (crashed or cut off). Its claim moves only once
    /// the cluster has downed it and that has held for the grace (a downed agent fences at once;
    /// the grace is for the news to reach it), and this coordinator has not heard from it for
    /// FenceAfter plus the grace (it fences itself by FenceAfter without an answer; a new
    /// coordinator counts from its own start); never while it comes back. The same rule decides
    /// when the holder's last report stops blocking the new holder's activation (HostDirectory),
    /// for a handoff recorded while the holder still looked live.
    /// </summary>
    private async Task WaitFencedAsync(OperationContext op, string holder, LvRef lv, CancellationToken ct)
    {
        var grace = TimeSpan.FromSeconds(options.FenceGraceSeconds);
        var silenceNeeded = TimeSpan.FromSeconds(options.FenceAfterSeconds) + grace;
        var started = time.GetTimestamp();
        while (true)
        {
            if (time.GetElapsedTime(started) > TakeoverWaitLimit)
            {
                throw new HostDown(holder, $"{holder} holds {lv.FullName} and is unreachable, but the cluster has not downed it; the claim stays. Check 'vgmesh host list'; retry once {holder} is down or back.");
            }

            if (cluster.IsLive(holder))
            {
                throw new LvInUse([holder], $"{holder} came back while {lv.FullName} waited to move; deactivate it there, or hand it off (vgmesh lv activate {lv.Lv} --host ...).");
            }

            if (op.Hosts.GoneFor(holder) >= grace && op.Hosts.Silence(holder) >= silenceNeeded)
            {
                break;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(250), time, ct).ConfigureAwait(false);
        }

        LogTakeover(logger, lv.FullName, holder, op.Hosts.Silence(holder).TotalSeconds);
    }

    [LoggerMessage(EventId = 3203, Level = LogLevel.Warning, Message = "{Lv}: its holder {Holder} was downed and has been silent {Seconds:0.0} s, past its fence deadline and the grace: the claim moves")]
    private static partial void LogTakeover(ILogger logger, string lv, string holder, double seconds);

    /// <summary>
    /// A thin volume activates its pool with it: on a host other than the one where the pool is
    /// active, LVM would activate the pool a second time (two kernels writing its metadata). An
    /// LV the disk's metadata shows plain (most) never gets here: no LVM process for it.
    /// </summary>
    private async Task RefuseThinAwayFromItsPoolAsync(OperationRun run, string host, CancellationToken ct)
    {
        if (await lvm.GetOrNotFoundAsync(run.Lv, ct).ConfigureAwait(false) is not { IsThin: true } thin)
        {
            return;
        }

        var elsewhere = (await placement.PoolHoldersAsync(run.Context, thin, ct).ConfigureAwait(false)).Where(h => h != host).ToList();
        if (elsewhere.Count > 0)
        {
            throw new LvInUse(elsewhere, $"{run.Lv.FullName} is a thin volume of pool {run.Lv.Vg}/{thin.PoolLv}, which is active on {string.Join(", ", elsewhere)}: it can be active there only (activating it on {host} would activate the pool on a second host). Activate it on {string.Join(", ", elsewhere)}, or deactivate the pool's volumes there first.");
        }
    }
}
