using System.Text.Json;
using Microsoft.Extensions.Logging;
using VgMesh.Agent.Reconciling;
using VgMesh.Agent.Telemetry;
using VgMesh.Coordination;
using VgMesh.Lvm;
using VgMesh.Lvm.Commands;
using VgMesh.Lvm.Reports;

namespace VgMesh.Agent.Operations;

/// <summary>
/// The coordinator's handler: for each queued operation it re-reads the metadata and the hosts'
/// reports, checks preconditions, runs the LVM command under the leader's permit (checked right
/// before the command), and returns the result, its event (with the new <c>vg_seqno</c>) and its
/// claim changes, which the queue records in one fenced transaction.
/// </summary>
public sealed partial class VolumeOperations(
    LvmDriver lvm, VgMesh.Lvm.DeviceMapper.DmSetup dm, Reconciling.Deactivator deactivator, ClusterRuntime runtime, PeerClient peers, LocalSteps localSteps, AgentMetrics metrics, AgentOptions options, TimeProvider time, ILogger<VolumeOperations> logger)
{
    private TimeSpan Margin => TimeSpan.FromSeconds(options.SessionTtlSeconds / 3.0);

    /// <summary>What an operation did: its answer, its event kind, its claim changes, and the <c>vg_seqno</c> it left (null: read it).</summary>
    private sealed record Done(string Message, string Kind, IReadOnlyList<CatalogWrite>? Claims = null, long? Seqno = null);

    public async Task<OperationOutcome> HandleAsync(QueuedOperation op, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(op);
        var started = time.GetTimestamp();
        var waited = time.GetUtcNow() - op.SubmittedAt;
        var outcome = await HandleCoreAsync(op, ct).ConfigureAwait(false);
        metrics.OperationDone(op.Request.Kind, outcome.Result.Status == OperationStatus.Succeeded ? "succeeded" : outcome.Result.Data ?? "failed",
            op.Request.SubmittedBy, time.GetElapsedTime(started), waited);
        return outcome;
    }

    private async Task<OperationOutcome> HandleCoreAsync(QueuedOperation op, CancellationToken ct)
    {
        var node = runtime.Node;
        var permit = new LeaderPermit(node.Coordinator, options.Host, Margin);
        var args = JsonSerializer.Deserialize(op.Request.Payload, AgentJsonContext.Default.LvOperation)!;
        var lv = new LvRef(options.VolumeGroup, args.Lv);
        try
        {
            var done = op.Request.Kind switch
            {
                OperationKinds.Create => await CreateAsync(lv, args, permit, op, ct).ConfigureAwait(false),
                OperationKinds.Remove => await RemoveAsync(node, lv, permit, op, ct).ConfigureAwait(false),
                OperationKinds.Extend or OperationKinds.Reduce => await ResizeAsync(node, lv, args, op.Request.Kind == OperationKinds.Extend, permit, op, ct).ConfigureAwait(false),
                OperationKinds.Snapshot => await SnapshotAsync(node, lv, args, permit, op, ct).ConfigureAwait(false),
                OperationKinds.Merge => await MergeAsync(node, lv, permit, op, ct).ConfigureAwait(false),
                OperationKinds.Rename => await RenameAsync(node, lv, args, permit, op, ct).ConfigureAwait(false),
                OperationKinds.Activate => await ActivateAsync(node, lv, args, permit, ct).ConfigureAwait(false),
                OperationKinds.Deactivate => await DeactivateAsync(node, lv, args, permit, ct).ConfigureAwait(false),
                _ => throw new OperationFailedException("bad-request", $"unknown operation kind '{op.Request.Kind}'"),
            };
            // The sequence number the command reported committing, or the one read with the LV;
            // a vgs only when neither said.
            var seqno = done.Seqno ?? (await lvm.GetVgAsync(options.VolumeGroup, ct).ConfigureAwait(false)).Seqno;
            var ev = new ClusterEvent(done.Kind, lv.FullName, op.Request.Payload, seqno, op.Request.Id, options.Host, time.GetUtcNow());
            var result = new OperationResult(op.Request.Id, OperationStatus.Succeeded, done.Message, null, options.Host, 0, time.GetUtcNow());
            return new OperationOutcome(result, [ev], done.Claims);
        }
        catch (Exception e) when (e is OperationFailedException or LvmException)
        {
            var code = e is OperationFailedException f ? f.Code : ((LvmException)e).Code;
            LogRefused(logger, op.Request.Kind, lv.FullName, code, e.Message);
            return new OperationOutcome(new OperationResult(op.Request.Id, OperationStatus.Failed, e.Message, code, options.Host, 0, time.GetUtcNow()), []);
        }
    }

    private async Task<Done> CreateAsync(LvRef lv, LvOperation args, LeaderPermit permit, QueuedOperation op, CancellationToken ct)
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
        return new Done($"created {lv.FullName}", "lv.created", null, seqno);
    }

    private async Task<Done> RemoveAsync(IClusterNode node, LvRef lv, LeaderPermit permit, QueuedOperation op, CancellationToken ct)
    {
        // No report first (one LVM process less): the hosts' reports and this host's own
        // device-mapper say where it is active, and lvremove itself says when it is missing.
        // Every host counts, the coordinator's own too: lvremove --yes would remove an active LV here.
        var holders = await ActiveOnAsync(node, lv.Lv, ct).ConfigureAwait(false);
        if (holders.Count > 0)
        {
            throw new OperationFailedException("in-use", $"LvInUse({string.Join(", ", holders)}): {lv.FullName} is active on {string.Join(", ", holders)}; deactivate it there first (vgmesh lv deactivate {lv.Lv}).");
        }

        try
        {
            var seqno = await lvm.RemoveLvAsync(lv, permit, ct).ConfigureAwait(false);
            return new Done($"removed {lv.FullName}", "lv.removed", [new CatalogWrite(CatalogKeys.Claim(lv.Lv), null)], seqno);
        }
        catch (LvmNotFoundException) when (op.Recovered)
        {
            return new Done($"{lv.FullName} is gone (removed before the coordinator changed)", "lv.removed", [new CatalogWrite(CatalogKeys.Claim(lv.Lv), null)]);
        }
        catch (LvmNotFoundException)
        {
            throw NotFound(lv);
        }
    }

    private async Task<Done> ResizeAsync(IClusterNode node, LvRef lv, LvOperation args, bool grow, LeaderPermit permit, QueuedOperation op, CancellationToken ct)
    {
        if (grow)
        {
            return await ExtendAsync(node, lv, args, permit, op, ct).ConfigureAwait(false);
        }

        var current = await lvm.GetLvAsync(lv, ct).ConfigureAwait(false);
        var target = args.SizeSign == 0 ? args.SizeBytes!.Value : current.SizeBytes - args.SizeBytes!.Value;
        if (target <= 0 || target >= current.SizeBytes)
        {
            throw new OperationFailedException("invalid-size", $"reduce of {lv.FullName} must end between 0 and its size {current.SizeBytes} bytes (asked {target}).");
        }

        var holders = await ActiveOnAsync(node, lv.Lv, ct).ConfigureAwait(false);
        if (holders.Count > 0 || current.Active)
        {
            throw new OperationFailedException("in-use", $"LvInUse({string.Join(", ", holders)}): shrinking {lv.FullName} while it is active is refused; deactivate it everywhere first.");
        }

        var reduced = await lvm.ReduceLvAsync(lv, target, permit, ct).ConfigureAwait(false);
        return new Done($"reduced {lv.FullName} to {target} bytes", "lv.reduced", null, reduced);
    }

    /// <summary>
    /// An extend needs no report first: growing is safe wherever the LV is active (each holder's
    /// table grows before the answer), LVM adds a relative size under its own VG lock and refuses
    /// an absolute one that would shrink, and a missing LV fails in the command itself.
    /// </summary>
    private async Task<Done> ExtendAsync(IClusterNode node, LvRef lv, LvOperation args, LeaderPermit permit, QueuedOperation op, CancellationToken ct)
    {
        // Active on one other host: its kernel reloads the table in the same command. Active on
        // several (shared): run here; every holder refreshes before the answer (the settle wait).
        if (await DelegateToAsync(node, lv.Lv, ct).ConfigureAwait(false) is { } holder)
        {
            var step = new DelegatedStep(OperationKinds.Extend, args, options.Host, permit.FencingToken, op.Request.Id);
            var ran = await DelegateAsync(node, holder, step, permit, ct).ConfigureAwait(false);
            return new Done(ran.Message, "lv.extended", null, ran.VgSeqno);
        }

        var (message, seqno) = await ExtendHereAsync(lv, args, permit, ct).ConfigureAwait(false);
        if ((await ActiveOnAsync(node, lv.Lv, ct).ConfigureAwait(false)) is [var only] && only == options.Host)
        {
            localSteps.Ran(op.Request.Id); // active only here: LVM reloaded this host's table in the command
        }

        return new Done(message, "lv.extended", null, seqno);
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

    private async Task<Done> SnapshotAsync(IClusterNode node, LvRef origin, LvOperation args, LeaderPermit permit, QueuedOperation op, CancellationToken ct)
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

        var holders = await ActiveOnAsync(node, origin.Lv, ct).ConfigureAwait(false);
        if (holders.Count > 1)
        {
            throw new OperationFailedException("in-use", $"LvInUse({string.Join(", ", holders)}): {origin.FullName} is active on {string.Join(", ", holders)}; copy-on-write happens in one kernel only, so a snapshot needs the origin active on one host at most. Deactivate it elsewhere first.");
        }

        if (holders is [var holder] && holder != options.Host)
        {
            var step = new DelegatedStep(OperationKinds.Snapshot, args, options.Host, permit.FencingToken, op.Request.Id);
            var ran = await DelegateAsync(node, holder, step, permit, ct).ConfigureAwait(false);
            return new Done(ran.Message, "lv.snapshot-created", null, ran.VgSeqno);
        }

        // Origin inactive everywhere: LVM creates the snapshot inactive too (seen on 2.03.16).
        var seqno = await lvm.CreateSnapshotAsync(origin, name, args.SizeBytes!.Value, args.ChunkBytes, permit, ct).ConfigureAwait(false);
        return new Done($"created snapshot {origin.Vg}/{name} of {origin.FullName} on {options.Host}", "lv.snapshot-created", null, seqno);
    }

    private async Task<Done> MergeAsync(IClusterNode node, LvRef snapshot, LeaderPermit permit, QueuedOperation op, CancellationToken ct)
    {
        if (await GetOrGoneAsync(snapshot, op, ct).ConfigureAwait(false) is not { } snap)
        {
            return new Done($"{snapshot.FullName} is gone (merged before the coordinator changed)", "lv.merged");
        }

        if (!snap.IsSnapshot || snap.Origin is null)
        {
            throw new OperationFailedException("bad-request", $"{snapshot.FullName} is not a snapshot; only a snapshot can be merged into its origin.");
        }

        var holders = await ActiveOnAsync(node, snap.Origin, ct).ConfigureAwait(false);
        if (holders.Count > 1)
        {
            throw new OperationFailedException("in-use", $"LvInUse({string.Join(", ", holders)}): the origin {snapshot.Vg}/{snap.Origin} is active on several hosts; deactivate it on all but one first.");
        }

        if (holders is [var holder] && holder != options.Host)
        {
            var step = new DelegatedStep(OperationKinds.Merge, new LvOperation(snapshot.Lv), options.Host, permit.FencingToken, op.Request.Id);
            var ran = await DelegateAsync(node, holder, step, permit, ct).ConfigureAwait(false);
            return new Done(ran.Message, "lv.merging", null, ran.VgSeqno);
        }

        var seqno = await lvm.MergeSnapshotAsync(snapshot, permit, ct).ConfigureAwait(false);
        return new Done($"merging {snapshot.FullName} into {snapshot.Vg}/{snap.Origin} on {options.Host}{(holders.Count == 0 ? " (completes when the origin is next activated)" : "")}", "lv.merging", null, seqno);
    }

    private async Task<Done> RenameAsync(IClusterNode node, LvRef lv, LvOperation args, LeaderPermit permit, QueuedOperation op, CancellationToken ct)
    {
        var to = new LvRef(lv.Vg, args.NewName ?? throw new OperationFailedException("bad-request", "rename needs a new name"));
        var claims = await StateReader.ClaimsAsync(node.Catalog, ct).ConfigureAwait(false);
        IReadOnlyList<CatalogWrite> moveClaim = claims.TryGetValue(lv.Lv, out var claim)
            ? [new CatalogWrite(CatalogKeys.Claim(lv.Lv), null), new CatalogWrite(CatalogKeys.Claim(to.Lv), JsonSerializer.Serialize(claim, AgentJsonContext.Default.ActivationClaim))]
            : [];
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
        var holders = await ActiveOnAsync(node, lv.Lv, ct).ConfigureAwait(false);
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
        var permit = await DelegatedPermit.VerifyAsync(runtime.Node.Coordinator, step, Margin, time, ct).ConfigureAwait(false);
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
    private async Task<string?> DelegateToAsync(IClusterNode node, string lv, CancellationToken ct) =>
        await ActiveOnAsync(node, lv, ct).ConfigureAwait(false) is [var only] && only != options.Host ? only : null;

    private async Task<StepResult> DelegateAsync(IClusterNode node, string host, DelegatedStep step, LeaderPermit permit, CancellationToken ct)
    {
        var member = (await node.Members.ListAsync(ct).ConfigureAwait(false)).FirstOrDefault(m => m.Host == host)
            ?? throw new OperationFailedException("host-down", $"{step.Args.Lv} is active on {host}, which has no session now; it will be fenced there. Retry once 'vgmesh host list' shows it back, or claim the LV elsewhere.");
        permit.EnsureValid();
        return await peers.RunAsync(member, step, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Hosts where the LV is active: the others as they report it (their status keys live only
    /// with their sessions), this host as its device-mapper says now or as its guard announced.
    /// This host's own report may be older than the release of an LV it has just created.
    /// </summary>
    private async Task<List<string>> ActiveOnAsync(IClusterNode node, string lv, CancellationToken ct)
    {
        var statuses = await StateReader.StatusesAsync(node.Catalog, ct).ConfigureAwait(false);
        var hosts = statuses.Where(s => s.Key != options.Host && s.Value.Active.Any(a => a.Name == lv)).Select(s => s.Key).ToList();
        if ((statuses.TryGetValue(options.Host, out var mine) && mine.Active.Any(a => a.Name == lv && a.Announced)) ||
            await dm.ExistsAsync(LvRef.DmNameOf(options.VolumeGroup, lv), ct).ConfigureAwait(false))
        {
            hosts.Add(options.Host);
        }

        return [.. hosts.Order(StringComparer.Ordinal)];
    }

    private async Task<LogicalVolume> GetAsync(LvRef lv, CancellationToken ct) =>
        await GetOrGoneAsync(lv, null, ct).ConfigureAwait(false) ?? throw new InvalidOperationException("unreachable: only a replay finds the LV gone");

    /// <summary>The LV; null when it is gone and the operation is a replay (the previous coordinator did it).</summary>
    private async Task<LogicalVolume?> GetOrGoneAsync(LvRef lv, QueuedOperation? op, CancellationToken ct)
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

    private async Task<Done> ActivateAsync(IClusterNode node, LvRef lv, LvOperation args, LeaderPermit permit, CancellationToken ct)
    {
        var seqno = (await GetAsync(lv, ct).ConfigureAwait(false)).VgSeqno;
        var host = args.Host ?? throw new OperationFailedException("bad-request", "activate needs a host");
        var members = await node.Members.ListAsync(ct).ConfigureAwait(false);
        if (members.All(m => m.Host != host))
        {
            throw new OperationFailedException("host-down", $"host '{host}' is not a live member of the cluster (no session); 'vgmesh host list' shows who is.");
        }

        // The current exclusive holder is gone (crashed or cut off): it fenced itself before its
        // session ran out; wait the grace period on top, and make sure it did not come back meanwhile.
        var current = (await StateReader.ClaimsAsync(node.Catalog, ct).ConfigureAwait(false)).GetValueOrDefault(lv.Lv);
        var holderGone = current is { Host: { } holder, Mode: ActivationClaim.Exclusive } && holder != host && members.All(m => m.Host != holder);
        if (holderGone)
        {
            await Task.Delay(TimeSpan.FromSeconds(options.FenceGraceSeconds), time, ct).ConfigureAwait(false);
        }

        permit.EnsureValid();
        if (!args.Exclusive)
        {
            if (current is { Mode: ActivationClaim.Exclusive, Host: { } owner } && owner != host && !holderGone)
            {
                throw new OperationFailedException("in-use", $"LvInUse({owner}): {lv.FullName} is claimed exclusively by {owner}; deactivate it there before sharing it (vgmesh lv deactivate {lv.Lv}).");
            }

            var sharedBy = (current?.Mode == ActivationClaim.Shared ? current.Holders : []).Append(host).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
            var shared = new ActivationClaim(null, ActivationClaim.Shared, permit.FencingToken, time.GetUtcNow(), sharedBy);
            return new Done($"{lv.FullName} shared by {string.Join(", ", sharedBy)}", "lv.claimed", [ClaimWrite(lv.Lv, shared)], seqno);
        }

        var statuses = await StateReader.StatusesAsync(node.Catalog, ct).ConfigureAwait(false);
        var openElsewhere = statuses.Where(s => s.Key != host && s.Value.Active.Any(a => a.Name == lv.Lv && a.OpenCount > 0)).Select(s => s.Key).ToList();
        if (openElsewhere.Count > 0 && !args.Wait)
        {
            throw new OperationFailedException("in-use", $"LvInUse({string.Join(", ", openElsewhere)}): {lv.FullName} is open on {string.Join(", ", openElsewhere)}; close it there, or pass --wait to hand it over when it is closed.");
        }

        var claim = new ActivationClaim(host, ActivationClaim.Exclusive, permit.FencingToken, time.GetUtcNow());
        return new Done($"{lv.FullName} claimed exclusively by {host}", "lv.claimed", [ClaimWrite(lv.Lv, claim)], seqno);
    }

    private async Task<Done> DeactivateAsync(IClusterNode node, LvRef lv, LvOperation args, LeaderPermit permit, CancellationToken ct)
    {
        var seqno = (await GetAsync(lv, ct).ConfigureAwait(false)).VgSeqno;
        permit.EnsureValid();
        var current = (await StateReader.ClaimsAsync(node.Catalog, ct).ConfigureAwait(false)).GetValueOrDefault(lv.Lv);
        if (args.Host is { } host && current is { Mode: ActivationClaim.Shared } && current.Holders.Count > 1)
        {
            // One host leaves a shared claim; the others keep the LV.
            var rest = current.Holders.Where(h => h != host).ToList();
            var shared = new ActivationClaim(null, ActivationClaim.Shared, permit.FencingToken, time.GetUtcNow(), rest);
            return new Done($"{lv.FullName} released by {host}, still shared by {string.Join(", ", rest)}", "lv.released", [ClaimWrite(lv.Lv, shared)], seqno);
        }

        var claim = new ActivationClaim(null, ActivationClaim.Inactive, permit.FencingToken, time.GetUtcNow());
        return new Done($"{lv.FullName} released everywhere", "lv.released", [ClaimWrite(lv.Lv, claim)], seqno);
    }

    private static CatalogWrite ClaimWrite(string lv, ActivationClaim claim) =>
        new(CatalogKeys.Claim(lv), JsonSerializer.Serialize(claim, AgentJsonContext.Default.ActivationClaim));

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

    [LoggerMessage(EventId = 3202, Level = LogLevel.Information, Message = "running {Kind} of {Subject} for coordinator {Coordinator} (token {Token})")]
    private static partial void LogDelegated(ILogger logger, string kind, string subject, string coordinator, long token);

    [LoggerMessage(EventId = 3201, Level = LogLevel.Information, Message = "operation {Kind} {Subject} refused ({Code}): {Reason}")]
    private static partial void LogRefused(ILogger logger, string kind, string subject, string code, string reason);
}
