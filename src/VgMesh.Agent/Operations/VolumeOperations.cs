using System.Text.Json;
using Microsoft.Extensions.Logging;
using VgMesh.Agent.Reconciling;
using VgMesh.Coordination;
using VgMesh.Lvm;

namespace VgMesh.Agent.Operations;

/// <summary>
/// The coordinator's handler: for each queued operation it re-reads the metadata and the hosts'
/// reports, checks preconditions, runs the LVM command under the leader's permit (checked right
/// before the command), and returns the result, its event (with the new <c>vg_seqno</c>) and its
/// claim changes, which the queue records in one fenced transaction.
/// </summary>
public sealed partial class VolumeOperations(LvmDriver lvm, ClusterRuntime runtime, AgentOptions options, TimeProvider time, ILogger<VolumeOperations> logger)
{
    public async Task<OperationOutcome> HandleAsync(QueuedOperation op, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(op);
        var node = runtime.Node;
        var permit = new LeaderPermit(node.Coordinator, options.Host, TimeSpan.FromSeconds(options.SessionTtlSeconds / 3.0));
        var args = JsonSerializer.Deserialize(op.Request.Payload, AgentJsonContext.Default.LvOperation)!;
        var lv = new LvRef(options.VolumeGroup, args.Lv);
        try
        {
            var (message, kind, claim) = op.Request.Kind switch
            {
                OperationKinds.Create => await CreateAsync(lv, args, permit, op, ct).ConfigureAwait(false),
                OperationKinds.Remove => await RemoveAsync(node, lv, permit, op, ct).ConfigureAwait(false),
                OperationKinds.Extend or OperationKinds.Reduce => await ResizeAsync(node, lv, args, op.Request.Kind == OperationKinds.Extend, permit, ct).ConfigureAwait(false),
                OperationKinds.Activate => await ActivateAsync(node, lv, args, permit, ct).ConfigureAwait(false),
                OperationKinds.Deactivate => await DeactivateAsync(lv, permit, ct).ConfigureAwait(false),
                _ => throw new OperationFailedException("bad-request", $"unknown operation kind '{op.Request.Kind}'"),
            };
            var seqno = (await lvm.GetVgAsync(options.VolumeGroup, ct).ConfigureAwait(false)).Seqno;
            var ev = new ClusterEvent(kind, lv.FullName, op.Request.Payload, seqno, op.Request.Id, options.Host, time.GetUtcNow());
            var result = new OperationResult(op.Request.Id, OperationStatus.Succeeded, message, null, options.Host, 0, time.GetUtcNow());
            return new OperationOutcome(result, [ev], claim);
        }
        catch (Exception e) when (e is OperationFailedException or LvmException)
        {
            var code = e is OperationFailedException f ? f.Code : ((LvmException)e).Code;
            LogRefused(logger, op.Request.Kind, lv.FullName, code, e.Message);
            return new OperationOutcome(new OperationResult(op.Request.Id, OperationStatus.Failed, e.Message, code, options.Host, 0, time.GetUtcNow()), []);
        }
    }

    private async Task<(string, string, IReadOnlyList<CatalogWrite>?)> CreateAsync(LvRef lv, LvOperation args, LeaderPermit permit, QueuedOperation op, CancellationToken ct)
    {
        if (await ExistsAsync(lv, ct).ConfigureAwait(false))
        {
            // A recovered operation whose LV is already there was done by the previous leader.
            if (op.Recovered)
            {
                return ($"{lv.FullName} exists (created before the coordinator changed)", "lv.created", null);
            }

            throw new OperationFailedException("already-exists", $"{lv.FullName} already exists; choose another name or remove it first.");
        }

        // Created active so LVM wipes signatures and zeroes its start (old data of freed extents
        // must not leak), then released: activation is a claim's business.
        await lvm.CreateLvAsync(new CreateLvRequest(lv, args.SizeBytes!.Value, args.Tags), permit, ct).ConfigureAwait(false);
        await lvm.DeactivateAsync(lv, ct).ConfigureAwait(false);
        return ($"created {lv.FullName}", "lv.created", null);
    }

    private async Task<(string, string, IReadOnlyList<CatalogWrite>?)> RemoveAsync(IClusterNode node, LvRef lv, LeaderPermit permit, QueuedOperation op, CancellationToken ct)
    {
        if (!await ExistsAsync(lv, ct).ConfigureAwait(false))
        {
            if (op.Recovered)
            {
                return ($"{lv.FullName} is gone (removed before the coordinator changed)", "lv.removed", [new CatalogWrite(CatalogKeys.Claim(lv.Lv), null)]);
            }

            throw new OperationFailedException("not-found", $"{lv.FullName} does not exist; 'vgmesh lv list' shows what does.");
        }

        // Every host counts, the coordinator's own too: lvremove --yes would remove an active LV here.
        var holders = (await StateReader.StatusesAsync(node.Catalog, ct).ConfigureAwait(false))
            .Where(s => s.Value.Active.Any(a => a.Name == lv.Lv)).Select(s => s.Key).Order(StringComparer.Ordinal).ToList();
        if ((await lvm.GetLvAsync(lv, ct).ConfigureAwait(false)).ActiveLocally && !holders.Contains(options.Host))
        {
            holders.Add(options.Host);
        }

        if (holders.Count > 0)
        {
            throw new OperationFailedException("in-use", $"LvInUse({string.Join(", ", holders)}): {lv.FullName} is active on {string.Join(", ", holders)}; deactivate it there first (vgmesh lv deactivate {lv.Lv}).");
        }

        await lvm.RemoveLvAsync(lv, permit, ct).ConfigureAwait(false);
        return ($"removed {lv.FullName}", "lv.removed", [new CatalogWrite(CatalogKeys.Claim(lv.Lv), null)]);
    }

    private async Task<(string, string, IReadOnlyList<CatalogWrite>?)> ResizeAsync(IClusterNode node, LvRef lv, LvOperation args, bool grow, LeaderPermit permit, CancellationToken ct)
    {
        var current = await lvm.GetLvAsync(lv, ct).ConfigureAwait(false);
        var target = args.SizeSign switch { 0 => args.SizeBytes!.Value, > 0 => current.SizeBytes + args.SizeBytes!.Value, _ => current.SizeBytes - args.SizeBytes!.Value };
        if (grow && target <= current.SizeBytes)
        {
            // A replay of an absolute extend that already happened lands here too.
            return target == current.SizeBytes ? ($"{lv.FullName} is already {target} bytes", "lv.extended", null)
                : throw new OperationFailedException("shrink-refused", $"extend of {lv.FullName} to {target} bytes would shrink it from {current.SizeBytes}; use reduce.");
        }

        if (!grow)
        {
            if (target <= 0 || target >= current.SizeBytes)
            {
                throw new OperationFailedException("invalid-size", $"reduce of {lv.FullName} must end between 0 and its size {current.SizeBytes} bytes (asked {target}).");
            }

            var holders = (await StateReader.StatusesAsync(node.Catalog, ct).ConfigureAwait(false)).Where(s => s.Value.Active.Any(a => a.Name == lv.Lv)).Select(s => s.Key).ToList();
            if (holders.Count > 0 || current.Active)
            {
                throw new OperationFailedException("in-use", $"LvInUse({string.Join(", ", holders)}): shrinking {lv.FullName} while it is active is refused; deactivate it everywhere first.");
            }

            await lvm.ReduceLvAsync(lv, target, permit, ct).ConfigureAwait(false);
            return ($"reduced {lv.FullName} to {target} bytes", "lv.reduced", null);
        }

        await lvm.ExtendLvAsync(lv, target, permit, ct).ConfigureAwait(false);
        return ($"extended {lv.FullName} to {target} bytes", "lv.extended", null);
    }

    private async Task<(string, string, IReadOnlyList<CatalogWrite>?)> ActivateAsync(IClusterNode node, LvRef lv, LvOperation args, LeaderPermit permit, CancellationToken ct)
    {
        if (!await ExistsAsync(lv, ct).ConfigureAwait(false))
        {
            throw new OperationFailedException("not-found", $"{lv.FullName} does not exist; 'vgmesh lv list' shows what does.");
        }

        var host = args.Host ?? throw new OperationFailedException("bad-request", "activate needs a host");
        var members = await node.Members.ListAsync(ct).ConfigureAwait(false);
        if (members.All(m => m.Host != host))
        {
            throw new OperationFailedException("host-down", $"host '{host}' is not a live member of the cluster (no session); 'vgmesh host list' shows who is.");
        }

        // The current holder is gone (crashed or cut off): it fenced itself before its session ran
        // out; wait the grace period on top, and make sure it did not come back meanwhile.
        var current = (await StateReader.ClaimsAsync(node.Catalog, ct).ConfigureAwait(false)).GetValueOrDefault(lv.Lv);
        if (current is { Host: { } holder, Mode: ActivationClaim.Exclusive } && holder != host && members.All(m => m.Host != holder))
        {
            await Task.Delay(TimeSpan.FromSeconds(options.FenceGraceSeconds), time, ct).ConfigureAwait(false);
        }

        var statuses = await StateReader.StatusesAsync(node.Catalog, ct).ConfigureAwait(false);
        var openElsewhere = statuses.Where(s => s.Key != host && s.Value.Active.Any(a => a.Name == lv.Lv && a.OpenCount > 0)).Select(s => s.Key).ToList();
        if (openElsewhere.Count > 0 && !args.Wait)
        {
            throw new OperationFailedException("in-use", $"LvInUse({string.Join(", ", openElsewhere)}): {lv.FullName} is open on {string.Join(", ", openElsewhere)}; close it there, or pass --wait to hand it over when it is closed.");
        }

        permit.EnsureValid();
        var claim = new ActivationClaim(host, ActivationClaim.Exclusive, permit.FencingToken, time.GetUtcNow());
        return ($"{lv.FullName} claimed exclusively by {host}", "lv.claimed", [new CatalogWrite(CatalogKeys.Claim(lv.Lv), JsonSerializer.Serialize(claim, AgentJsonContext.Default.ActivationClaim))]);
    }

    private async Task<(string, string, IReadOnlyList<CatalogWrite>?)> DeactivateAsync(LvRef lv, LeaderPermit permit, CancellationToken ct)
    {
        if (!await ExistsAsync(lv, ct).ConfigureAwait(false))
        {
            throw new OperationFailedException("not-found", $"{lv.FullName} does not exist; 'vgmesh lv list' shows what does.");
        }

        permit.EnsureValid();
        var claim = new ActivationClaim(null, ActivationClaim.Inactive, permit.FencingToken, time.GetUtcNow());
        return ($"{lv.FullName} released everywhere", "lv.released", [new CatalogWrite(CatalogKeys.Claim(lv.Lv), JsonSerializer.Serialize(claim, AgentJsonContext.Default.ActivationClaim))]);
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

    [LoggerMessage(EventId = 3201, Level = LogLevel.Information, Message = "operation {Kind} {Subject} refused ({Code}): {Reason}")]
    private static partial void LogRefused(ILogger logger, string kind, string subject, string code, string reason);
}
