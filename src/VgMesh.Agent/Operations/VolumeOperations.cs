using System.Collections.Immutable;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using VgMesh.Agent.Telemetry;
using VgMesh.Cluster;
using VgMesh.Cluster.Coordinator;
using VgMesh.Lvm;
using VgMesh.Lvm.Commands;
using VgMesh.Lvm.Reports;

namespace VgMesh.Agent.Operations;

/// <summary>
/// The coordinator's handler: for each queued operation it re-reads the metadata and the hosts'
/// reports, checks preconditions, runs the LVM command under the coordinator's lease (checked
/// right before the command), and returns the result, its event (with the new <c>vg_seqno</c>)
/// and its claim changes, which the coordinator records in one journal entry.
/// </summary>
public sealed partial class VolumeOperations(
    LvmDriver lvm, VgMesh.Lvm.DeviceMapper.DmSetup dm, Reconciling.Deactivator deactivator, AgentCluster cluster, PeerClient peers, LocalSteps localSteps, AgentMetrics metrics, AgentOptions options, TimeProvider time, ILogger<VolumeOperations> logger)
    : IOperationHandler
{
    /// <summary>What an operation did: its answer, its event kind, its claim changes, and the <c>vg_seqno</c> it left (null: read it).</summary>
    private sealed record Done(string Message, string Kind, ImmutableArray<ClaimChange> Claims = default, long? Seqno = null);

    public async Task<OperationOutcome> HandleAsync(OperationContext context, CancellationToken leaseLost)
    {
        ArgumentNullException.ThrowIfNull(context);
        var started = time.GetTimestamp();
        var waited = time.GetUtcNow() - context.SubmittedAt;
        var outcome = await HandleCoreAsync(context, leaseLost).ConfigureAwait(false);
        metrics.OperationDone(context.Request.Kind, outcome.Status == OperationStatus.Succeeded ? "succeeded" : outcome.Data ?? "failed",
            context.Request.SubmittedBy, time.GetElapsedTime(started), waited);
        return outcome;
    }

    private async Task<OperationOutcome> HandleCoreAsync(OperationContext op, CancellationToken ct)
    {
        var permit = new LeaderPermit(op.Lease, options.Host);
        var args = JsonSerializer.Deserialize(op.Request.Payload, AgentJsonContext.Default.LvOperation)!;
        var lv = new LvRef(options.VolumeGroup, args.Lv);
        try
        {
            var done = op.Request.Kind switch
            {
                OperationKinds.Create => await CreateAsync(lv, args, permit, op, ct).ConfigureAwait(false),
                OperationKinds.Remove => await RemoveAsync(lv, permit, op, ct).ConfigureAwait(false),
                OperationKinds.Extend or OperationKinds.Reduce => await ResizeAsync(lv, args, op.Request.Kind == OperationKinds.Extend, permit, op, ct).ConfigureAwait(false),
                OperationKinds.Snapshot => await SnapshotAsync(lv, args, permit, op, ct).ConfigureAwait(false),
                OperationKinds.Merge => await MergeAsync(lv, permit, op, ct).ConfigureAwait(false),
                OperationKinds.Rename => await RenameAsync(lv, args, permit, op, ct).ConfigureAwait(false),
                OperationKinds.Activate => await ActivateAsync(lv, args, permit, op, ct).ConfigureAwait(false),
                OperationKinds.Deactivate => await DeactivateAsync(lv, args, permit, op, ct).ConfigureAwait(false),
                _ => throw new OperationFailedException("bad-request", $"unknown operation kind '{op.Request.Kind}'"),
            };
            // The sequence number the command reported committing, or the one read with the LV;
            // a vgs only when neither said.
            var seqno = done.Seqno ?? (await lvm.GetVgAsync(options.VolumeGroup, ct).ConfigureAwait(false)).Seqno;
            var ev = new ClusterEvent(done.Kind, lv.FullName, op.Request.Payload, seqno, op.Request.Id, options.Host, time.GetUtcNow());
            return new OperationOutcome(OperationStatus.Succeeded, done.Message, null, [ev], done.Claims.IsDefault ? [] : done.Claims);
        }
        catch (Exception e) when (e is OperationFailedException or LvmException)
        {
            var code = e is OperationFailedException f ? f.Code : ((LvmException)e).Code;
            LogRefused(logger, op.Request.Kind, lv.FullName, code, e.Message);
            return new OperationOutcome(OperationStatus.Failed, e.Message, code, [], []);
        }
    }

    private async Task<Done> CreateAsync(LvRef lv, LvOperation args, LeaderPermit permit, OperationContext op, CancellationToken ct)
    {
        // A recovered operation whose LV is already there was done by the previous leader. A new
        // one skips the look-up (one LVM process less): lvcreate itself refuses a taken name.
        if (op.Recovered && await ExistsAsync(lv, ct).ConfigureAwait(false))
        {
            return new Done($"{lv.FullName} exists (created before the coordinator changed)", "lv.created");
        }

        // Created active so LVM wipes signatures and zeroes its start (old data of freed extents
        // must not leak), then released before the result is recorded: activation is a claim's
        // business, and no claim can be made while the LV is still active here. (Releasing it
        // beside the next operations was tried: no faster in the lab, and it opened a moment in
        // which a next coordinator could claim an LV still active on this host.)
        var seqno = await lvm.CreateLvAsync(new CreateLvRequest(lv, args.SizeBytes!.Value, args.Tags), permit, ct).ConfigureAwait(false);
        await deactivator.DeactivateAsync(lv, ct).ConfigureAwait(false); // a new LV: one device straight on the PVs
        return new Done($"created {lv.FullName}", "lv.created", default, seqno);
    }

    private async Task<Done> RemoveAsync(LvRef lv, LeaderPermit permit, OperationContext op, CancellationToken ct)
    {
        // No report first (one LVM process less): the hosts' reports and this host's own
        // device-mapper say where it is active, and lvremove itself says when it is missing.
        // Every host counts, the coordinator's own too: lvremove --yes would remove an active LV here.
        var holders = await ActiveOnAsync(op, lv.Lv, ct).ConfigureAwait(false);
        if (holders.Count > 0)
        {
            throw new OperationFailedException("in-use", $"LvInUse({string.Join(", ", holders)}): {lv.FullName} is active on {string.Join(", ", holders)}; deactivate it there first (vgmesh lv deactivate {lv.Lv}).");
        }

        try
        {
            var seqno = await lvm.RemoveLvAsync(lv, permit, ct).ConfigureAwait(false);
            return new Done($"removed {lv.FullName}", "lv.removed", [ClaimChange.Drop(lv.Lv)], seqno);
        }
        catch (LvmNotFoundException) when (op.Recovered)
        {
            return new Done($"{lv.FullName} is gone (removed before the coordinator changed)", "lv.removed", [ClaimChange.Drop(lv.Lv)]);
        }
        catch (LvmNotFoundException)
        {
            throw NotFound(lv);
        }
    }

    private async Task<Done> ResizeAsync(LvRef lv, LvOperation args, bool grow, LeaderPermit permit, OperationContext op, CancellationToken ct)
    {
        if (grow)
        {
            return await ExtendAsync(lv, args, permit, op, ct).ConfigureAwait(false);
        }

        var current = await lvm.GetLvAsync(lv, ct).ConfigureAwait(false);
        var target = args.SizeSign == 0 ? args.SizeBytes!.Value : current.SizeBytes - args.SizeBytes!.Value;
        if (target <= 0 || target >= current.SizeBytes)
        {
            throw new OperationFailedException("invalid-size", $"reduce of {lv.FullName} must end between 0 and its size {current.SizeBytes} bytes (asked {target}).");
        }

        var holders = await ActiveOnAsync(op, lv.Lv, ct).ConfigureAwait(false);
        if (holders.Count > 0 || current.Active)
        {
            throw new OperationFailedException("in-use", $"LvInUse({string.Join(", ", holders)}): shrinking {lv.FullName} while it is active is refused; deactivate it everywhere first.");
        }

        var reduced = await lvm.ReduceLvAsync(lv, target, permit, ct).ConfigureAwait(false);
        return new Done($"reduced {lv.FullName} to {target} bytes", "lv.reduced", default, reduced);
    }

    /// <summary>
    /// An extend needs no report first: growing is safe wherever the LV is active (each holder's
    /// table grows before the answer), LVM adds a relative size under its own VG lock and refuses
    /// an absolute one that would shrink, and a missing LV fails in the command itself.
    /// </summary>
    private async Task<Done> ExtendAsync(LvRef lv, LvOperation args, LeaderPermit permit, OperationContext op, CancellationToken ct)
    {
        // Active on one other host: its kernel reloads the table in the same command. Active on
        // several (shared): run here; every holder refreshes before the answer (the settle wait).
        if (await DelegateToAsync(op, lv.Lv, ct).ConfigureAwait(false) is { } holder)
        {
            var step = Step(OperationKinds.Extend, args, op);
            var ran = await DelegateAsync(op, holder, step, permit, ct).ConfigureAwait(false);
            return new Done(ran.Message, "lv.extended", default, ran.VgSeqno);
        }

        var (message, seqno) = await ExtendHereAsync(lv, args, permit, ct).ConfigureAwait(false);
        if ((await ActiveOnAsync(op, lv.Lv, ct).ConfigureAwait(false)) is [var only] && only == options.Host)
        {
            localSteps.Ran(op.Request.Id); // active only here: LVM reloaded this host's table in the command
        }

        return new Done(message, "lv.extended", default, seqno);
    }

    /// <summary>
    /// Runs an extend on this host as it was asked: a relative one adds to whatever size LVM
    /// finds; an absolute one equal to the current size changes nothing (a replay lands here).
    /// </summary>
    private async Task<(string Message, long? Seqno)> ExtendHereAsync(LvRef lv, LvOperation args, MetadataWritePermit permit, CancellationToken ct)
    {
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
            throw new OperationFailedException("shrink-refused", $"extend of {lv.FullName} to {bytes} bytes would shrink it; use reduce (with the LV inactive everywhere).");
        }
        catch (LvmNotFoundException)
        {
            throw NotFound(lv);
        }
    }

    private async Task<Done> SnapshotAsync(LvRef origin, LvOperation args, LeaderPermit permit, OperationContext op, CancellationToken ct)
    {
        var name = args.NewName ?? throw new OperationFailedException("bad-request", "a snapshot needs a name");
        var source = await GetAsync(origin, ct).ConfigureAwait(false);
        if (await ExistsAsync(new LvRef(origin.Vg, name), ct).ConfigureAwait(false))
        {
            return op.Recovered ? new Done($"{origin.Vg}/{name} exists (created before the coordinator changed)", "lv.snapshot-created")
                : throw new OperationFailedException("already-exists", $"{origin.Vg}/{name} already exists; choose another snapshot name.");
        }

        if (source.IsSnapshot)
        {
            throw new OperationFailedException("bad-request", $"{origin.FullName} is itself a snapshot; snapshot its origin {origin.Vg}/{source.Origin} instead.");
        }

        var holders = await ActiveOnAsync(op, origin.Lv, ct).ConfigureAwait(false);
        if (holders.Count > 1)
        {
            throw new OperationFailedException("in-use", $"LvInUse({string.Join(", ", holders)}): {origin.FullName} is active on {string.Join(", ", holders)}; copy-on-write happens in one kernel only, so a snapshot needs the origin active on one host at most. Deactivate it elsewhere first.");
        }

        if (holders is [var holder] && holder != options.Host)
        {
            var step = Step(OperationKinds.Snapshot, args, op);
            var ran = await DelegateAsync(op, holder, step, permit, ct).ConfigureAwait(false);
            return new Done(ran.Message, "lv.snapshot-created", default, ran.VgSeqno);
        }

        // Origin inactive everywhere: LVM creates the snapshot inactive too (seen on 2.03.16).
        var seqno = await lvm.CreateSnapshotAsync(origin, name, args.SizeBytes!.Value, args.ChunkBytes, permit, ct).ConfigureAwait(false);
        return new Done($"created snapshot {origin.Vg}/{name} of {origin.FullName} on {options.Host}", "lv.snapshot-created", default, seqno);
    }

    private async Task<Done> MergeAsync(LvRef snapshot, LeaderPermit permit, OperationContext op, CancellationToken ct)
    {
        if (await GetOrGoneAsync(snapshot, op, ct).ConfigureAwait(false) is not { } snap)
        {
            return new Done($"{snapshot.FullName} is gone (merged before the coordinator changed)", "lv.merged");
        }

        if (!snap.IsSnapshot || snap.Origin is null)
        {
            throw new OperationFailedException("bad-request", $"{snapshot.FullName} is not a snapshot; only a snapshot can be merged into its origin.");
        }

        var holders = await ActiveOnAsync(op, snap.Origin, ct).ConfigureAwait(false);
        if (holders.Count > 1)
        {
            throw new OperationFailedException("in-use", $"LvInUse({string.Join(", ", holders)}): the origin {snapshot.Vg}/{snap.Origin} is active on several hosts; deactivate it on all but one first.");
        }

        if (holders is [var holder] && holder != options.Host)
        {
            var step = Step(OperationKinds.Merge, new LvOperation(snapshot.Lv), op);
            var ran = await DelegateAsync(op, holder, step, permit, ct).ConfigureAwait(false);
            return new Done(ran.Message, "lv.merging", default, ran.VgSeqno);
        }

        var seqno = await lvm.MergeSnapshotAsync(snapshot, permit, ct).ConfigureAwait(false);
        return new Done($"merging {snapshot.FullName} into {snapshot.Vg}/{snap.Origin} on {options.Host}{(holders.Count == 0 ? " (completes when the origin is next activated)" : "")}", "lv.merging", default, seqno);
    }

    private async Task<Done> RenameAsync(LvRef lv, LvOperation args, LeaderPermit permit, OperationContext op, CancellationToken ct)
    {
        var to = new LvRef(lv.Vg, args.NewName ?? throw new OperationFailedException("bad-request", "rename needs a new name"));
        ImmutableArray<ClaimChange> moveClaim = op.Claims.ContainsKey(lv.Lv) ? [ClaimChange.Move(lv.Lv, to.Lv)] : [];
        var fromExists = await ExistsAsync(lv, ct).ConfigureAwait(false);
        if (!fromExists && op.Recovered && await ExistsAsync(to, ct).ConfigureAwait(false))
        {
            return new Done($"{lv.FullName} is already {to.FullName} (renamed before the coordinator changed)", "lv.renamed", moveClaim);
        }

        await GetAsync(lv, ct).ConfigureAwait(false);
        if (await ExistsAsync(to, ct).ConfigureAwait(false))
        {
            throw new OperationFailedException("already-exists", $"{to.FullName} already exists; choose another name.");
        }

        // Every host names its device after the LV: a rename under an active device would leave
        // it under the old name there. Inactive everywhere, nothing is stale.
        var holders = await ActiveOnAsync(op, lv.Lv, ct).ConfigureAwait(false);
        if (holders.Count > 0)
        {
            throw new OperationFailedException("in-use", $"LvInUse({string.Join(", ", holders)}): {lv.FullName} is active; deactivate it everywhere before renaming (vgmesh lv deactivate {lv.Lv}).");
        }

        var seqno = await lvm.RenameLvAsync(lv, to.Lv, permit, ct).ConfigureAwait(false);
        return new Done($"renamed {lv.FullName} to {to.FullName}", "lv.renamed", moveClaim, seqno);
    }

    /// <summary>
    /// Runs on a host a coordinator delegated to: checks the coordinator's token against the store,
    /// then runs the one command under it.
    /// </summary>
    public async Task<StepResult> RunStepAsync(DelegatedStep step, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(step);
        var permit = await DelegatedPermit.VerifyAsync(cluster, step, time, ct).ConfigureAwait(false);
        var lv = new LvRef(options.VolumeGroup, LvmNames.ValidateLv(step.Args.Lv));
        LogDelegated(logger, step.Kind, lv.FullName, step.Coordinator, step.FencingToken);
        switch (step.Kind)
        {
            case OperationKinds.Extend:
                var (extended, seqno) = await ExtendHereAsync(lv, step.Args, permit, ct).ConfigureAwait(false);
                localSteps.Ran(step.OperationId);
                return new StepResult($"{extended}, where it is active", seqno);
            case OperationKinds.Snapshot:
                var snapshot = await lvm.CreateSnapshotAsync(lv, step.Args.NewName!, step.Args.SizeBytes!.Value, step.Args.ChunkBytes, permit, ct).ConfigureAwait(false);
                return new StepResult($"created snapshot {lv.Vg}/{step.Args.NewName} of {lv.FullName} on {options.Host}, where the origin is active", snapshot);
            case OperationKinds.Merge:
                var merged = await lvm.MergeSnapshotAsync(lv, permit, ct).ConfigureAwait(false);
                var after = (await lvm.ListLvsAsync(options.VolumeGroup, ct).ConfigureAwait(false)).Any(l => l.Name == lv.Lv);
                return new StepResult($"merging {lv.FullName} into its origin on {options.Host}{(after ? " (deferred by LVM until the origin is next activated: it is open)" : "")}", merged);
            default:
                throw new OperationFailedException("bad-request", $"'{step.Kind}' is not a step a coordinator delegates");
        }
    }

    /// <summary>The one other host the LV is active on, when a change must run in that host's kernel.</summary>
    private async Task<string?> DelegateToAsync(OperationContext op, string lv, CancellationToken ct) =>
        await ActiveOnAsync(op, lv, ct).ConfigureAwait(false) is [var only] && only != options.Host ? only : null;

    private DelegatedStep Step(string kind, LvOperation args, OperationContext op) =>
        new(kind, args, options.Host, op.Lease.Generation, op.Request.Id, op.Lease.Owner);

    private async Task<StepResult> DelegateAsync(OperationContext op, string host, DelegatedStep step, LeaderPermit permit, CancellationToken ct)
    {
        if (!cluster.IsLive(host) || ReportOf(op, host) is not { } report)
        {
            throw new OperationFailedException("host-down", $"HostDown({host}): {step.Args.Lv} is active on {host}, which is not a reachable member now; it fences itself there. Retry once 'vgmesh host list' shows it up, or claim the LV elsewhere.");
        }

        permit.EnsureValid();
        return await peers.RunAsync(host, report.ApiAddress, step, ct).ConfigureAwait(false);
    }

    private static HostStatus? ReportOf(OperationContext op, string host) =>
        op.Hosts.Reports.TryGetValue(host, out var r) ? HostStatus.FromReport(r) : null;

    /// <summary>
    /// Hosts where the LV is active: the others as they reported it to this coordinator, this
    /// host as its device-mapper says now or as it announced. A live host that has not reported
    /// yet could have it active: the operation is refused until it has.
    /// </summary>
    private async Task<List<string>> ActiveOnAsync(OperationContext op, string lv, CancellationToken ct)
    {
        // A host that has just joined, or whose first pass failed, reports within seconds.
        var waited = time.GetTimestamp();
        string? silent;
        while ((silent = cluster.LiveHosts().FirstOrDefault(h => h != options.Host && !op.Hosts.Reports.ContainsKey(h))) is not null)
        {
            if (time.GetElapsedTime(waited) > TimeSpan.FromSeconds(10))
            {
                throw new OperationFailedException("host-down", $"HostDown({silent}): {silent} is a member but has not reported what it has active; retry in a few seconds, or see its vgmeshd log.");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(200), time, ct).ConfigureAwait(false);
        }

        var reports = op.Hosts.Reports;

        var hosts = op.Hosts.ActiveOn(lv, except: options.Host).ToList();
        if ((reports.TryGetValue(options.Host, out var mine) && mine.Active.Any(a => a.Lv == lv && a.Announced)) ||
            await dm.ExistsAsync(LvRef.DmNameOf(options.VolumeGroup, lv), ct).ConfigureAwait(false))
        {
            hosts.Add(options.Host);
        }

        return [.. hosts.Order(StringComparer.Ordinal)];
    }

    private async Task<LogicalVolume> GetAsync(LvRef lv, CancellationToken ct) =>
        await GetOrGoneAsync(lv, null, ct).ConfigureAwait(false) ?? throw new InvalidOperationException("unreachable: only a replay finds the LV gone");

    /// <summary>The LV; null when it is gone and the operation is a replay (the previous coordinator did it).</summary>
    private async Task<LogicalVolume?> GetOrGoneAsync(LvRef lv, OperationContext? op, CancellationToken ct)
    {
        try
        {
            return await lvm.GetLvAsync(lv, ct).ConfigureAwait(false);
        }
        catch (LvmNotFoundException) when (op is { Recovered: true })
        {
            return null;
        }
        catch (LvmNotFoundException)
        {
            throw NotFound(lv);
        }
    }

    private static OperationFailedException NotFound(LvRef lv) =>
        new("not-found", $"{lv.FullName} does not exist; 'vgmesh lv list' shows what does.");

    private async Task<Done> ActivateAsync(LvRef lv, LvOperation args, LeaderPermit permit, OperationContext op, CancellationToken ct)
    {
        var seqno = (await GetAsync(lv, ct).ConfigureAwait(false)).VgSeqno;
        var host = args.Host ?? throw new OperationFailedException("bad-request", "activate needs a host");
        if (!cluster.IsLive(host))
        {
            throw new OperationFailedException("host-down", $"HostDown({host}): host '{host}' is not an up, reachable member of the cluster; 'vgmesh host list' shows who is.");
        }

        var current = op.Claims.GetValueOrDefault(lv.Lv);
        var exclusiveHolder = current is { Mode: ClaimMode.Exclusive, Hosts: [var h] } ? h : null;
        if (exclusiveHolder is not null && exclusiveHolder != host && !cluster.IsLive(exclusiveHolder))
        {
            await WaitFencedAsync(op, exclusiveHolder, lv, ct).ConfigureAwait(false);
        }

        permit.EnsureValid();
        if (!args.Exclusive)
        {
            if (exclusiveHolder is not null && exclusiveHolder != host && cluster.IsLive(exclusiveHolder))
            {
                throw new OperationFailedException("in-use", $"LvInUse({exclusiveHolder}): {lv.FullName} is claimed exclusively by {exclusiveHolder}; deactivate it there before sharing it (vgmesh lv deactivate {lv.Lv}).");
            }

            // From exclusive (this host's, or a gone holder's after its deadline) to shared: the
            // exclusive claim ends first, as the claim rules want.
            ImmutableArray<ClaimChange> changes = exclusiveHolder is not null
                ? [ClaimChange.Release(lv.Lv, exclusiveHolder), ClaimChange.Grant(lv.Lv, host, ClaimMode.Shared)]
                : [ClaimChange.Grant(lv.Lv, host, ClaimMode.Shared)];
            var sharedBy = (current?.Mode == ClaimMode.Shared ? current.Hosts : []).Add(host);
            return new Done($"{lv.FullName} shared by {string.Join(", ", sharedBy)}", "lv.claimed", changes, seqno);
        }

        var openElsewhere = op.Hosts.Reports.Values.Where(r => r.Host != host && r.Active.Any(a => a.Lv == lv.Lv && a.OpenCount > 0)).Select(r => r.Host).Order(StringComparer.Ordinal).ToList();
        if (openElsewhere.Count > 0 && !args.Wait)
        {
            throw new OperationFailedException("in-use", $"LvInUse({string.Join(", ", openElsewhere)}): {lv.FullName} is open on {string.Join(", ", openElsewhere)}; close it there, or pass --wait to hand it over when it is closed.");
        }

        ImmutableArray<ClaimChange> claim = current switch
        {
            { Mode: ClaimMode.Exclusive, Hosts: [var from] } when from != host => [ClaimChange.Handoff(lv.Lv, from, host)],
            { Mode: ClaimMode.Shared, Hosts.IsEmpty: false } shared => [.. shared.Hosts.Where(o => o != host).Select(o => ClaimChange.Release(lv.Lv, o)), ClaimChange.Grant(lv.Lv, host, ClaimMode.Exclusive)],
            _ => [ClaimChange.Grant(lv.Lv, host, ClaimMode.Exclusive)],
        };
        return new Done($"{lv.FullName} claimed exclusively by {host}", "lv.claimed", claim, seqno);
    }

    /// <summary>
    /// The exclusive holder is not a live member (crashed or cut off). Its claim moves only once
    /// the cluster has downed it and that has held for the grace (a downed agent fences at once;
    /// the grace is for the news to reach it), and this coordinator has not heard from it for
    /// FenceAfter plus the grace (it fences itself by FenceAfter without an answer; a new
    /// coordinator counts from its own start); never while it comes back.
    /// </summary>
    private async Task WaitFencedAsync(OperationContext op, string holder, LvRef lv, CancellationToken ct)
    {
        var grace = TimeSpan.FromSeconds(options.FenceGraceSeconds);
        var silenceNeeded = TimeSpan.FromSeconds(options.FenceAfterSeconds) + grace;
        long? goneSince = null;
        var started = time.GetTimestamp();
        while (true)
        {
            if (time.GetElapsedTime(started) > TimeSpan.FromMinutes(2))
            {
                // The queue waits behind this operation: after two minutes, refuse instead.
                throw new OperationFailedException("host-down", $"HostDown({holder}): {holder} holds {lv.FullName} and is unreachable, but the cluster has not downed it; the claim stays. Check 'vgmesh host list'; retry once {holder} is down or back.");
            }

            if (cluster.IsLive(holder))
            {
                throw new OperationFailedException("in-use", $"LvInUse({holder}): {holder} came back while {lv.FullName} waited to move; deactivate it there, or hand it off (vgmesh lv activate {lv.Lv} --host ...).");
            }

            goneSince = cluster.IsGone(holder) ? goneSince ?? time.GetTimestamp() : null;
            if (goneSince is { } since && time.GetElapsedTime(since) >= grace && op.Hosts.Silence(holder) >= silenceNeeded)
            {
                break;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(250), time, ct).ConfigureAwait(false);
        }

        LogTakeover(logger, lv.FullName, holder, op.Hosts.Silence(holder).TotalSeconds);
    }

    private async Task<Done> DeactivateAsync(LvRef lv, LvOperation args, LeaderPermit permit, OperationContext op, CancellationToken ct)
    {
        var seqno = (await GetAsync(lv, ct).ConfigureAwait(false)).VgSeqno;
        permit.EnsureValid();
        var current = op.Claims.GetValueOrDefault(lv.Lv);
        if (args.Host is { } host && current is { Mode: ClaimMode.Shared } && current.Hosts.Count > 1)
        {
            // One host leaves a shared claim; the others keep the LV.
            var rest = current.Hosts.Remove(host);
            return new Done($"{lv.FullName} released by {host}, still shared by {string.Join(", ", rest)}", "lv.released",
                current.Hosts.Contains(host) ? [ClaimChange.Release(lv.Lv, host)] : [], seqno);
        }

        // Released everywhere: the claim stays, with no host, so every host keeps it inactive.
        ImmutableArray<ClaimChange> changes = current is null
            ? [ClaimChange.Grant(lv.Lv, options.Host, ClaimMode.Shared), ClaimChange.Release(lv.Lv, options.Host)]
            : [.. current.Hosts.Select(h => ClaimChange.Release(lv.Lv, h))];
        return new Done($"{lv.FullName} released everywhere", "lv.released", changes, seqno);
    }

    private async Task<bool> ExistsAsync(LvRef lv, CancellationToken ct)
    {
        try
        {
            await lvm.GetLvAsync(lv, ct).ConfigureAwait(false);
            return true;
        }
        catch (LvmNotFoundException)
        {
            return false;
        }
    }

    [LoggerMessage(EventId = 3203, Level = LogLevel.Warning, Message = "{Lv}: its holder {Holder} was downed and has been silent {Seconds:0.0} s, past its fence deadline and the grace: the claim moves")]
    private static partial void LogTakeover(ILogger logger, string lv, string holder, double seconds);

    [LoggerMessage(EventId = 3202, Level = LogLevel.Information, Message = "running {Kind} of {Subject} for coordinator {Coordinator} (token {Token})")]
    private static partial void LogDelegated(ILogger logger, string kind, string subject, string coordinator, long token);

    [LoggerMessage(EventId = 3201, Level = LogLevel.Information, Message = "operation {Kind} {Subject} refused ({Code}): {Reason}")]
    private static partial void LogRefused(ILogger logger, string kind, string subject, string code, string reason);
}
