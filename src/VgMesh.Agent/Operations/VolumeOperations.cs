using System.Collections.Frozen;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using VgMesh.Agent.Telemetry;
using VgMesh.Cluster;
using VgMesh.Cluster.Coordinator;
using VgMesh.Lvm;
using VgMesh.Lvm.Commands;

namespace VgMesh.Agent.Operations;

/// <summary>
/// The coordinator's handler: hands each queued operation to the <see cref="IVolumeOperation"/>
/// of its kind, and turns what it did into the result, its event (with the new <c>vg_seqno</c>)
/// and its claim changes, which the coordinator records in one journal entry. A refusal
/// (<see cref="VolumeException"/>, or LVM's own) is recorded as a failed result with its code.
/// </summary>
public sealed partial class VolumeOperations : IOperationHandler
{
    private readonly FrozenDictionary<string, IVolumeOperation> _byKind;
    private readonly LvmDriver _lvm;
    private readonly AgentMetrics _metrics;
    private readonly AgentOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<VolumeOperations> _logger;
    private readonly StorageFence _storageFence;
    private readonly Reconciling.OnDiskMetadata _onDisk;

    public VolumeOperations(IEnumerable<IVolumeOperation> operations, StorageFence storageFence, Reconciling.OnDiskMetadata onDisk, LvmDriver lvm, AgentMetrics metrics, AgentOptions options, TimeProvider time, ILogger<VolumeOperations> logger)
    {
        ArgumentNullException.ThrowIfNull(operations);
        _byKind = operations.SelectMany(o => o.Kinds.Select(k => KeyValuePair.Create(k, o))).ToFrozenDictionary(StringComparer.Ordinal);
        (_storageFence, _onDisk, _lvm, _metrics, _options, _time, _logger) = (storageFence, onDisk, lvm, metrics, options, time, logger);
    }

    /// <summary>
    /// A container's request checked against the VG as it is now: its LVs and tags read from the
    /// metadata on disk (no process: an <c>lvs</c> took 0.5-0.85 s of a snapshot's growth in a
    /// lab host under the container's writes, issue #15), or by <c>lvs</c> where no metadata
    /// area can be read here. Either is the last commit: only this coordinator writes.
    /// </summary>
    private async Task CheckLlsAsync(string kind, LvRef lv, LvOperation args, CancellationToken ct)
    {
        try
        {
            if (await _onDisk.ReadAsync(lv.Vg, ct).ConfigureAwait(false) is var (_, vg) && vg.Name == lv.Vg)
            {
                Lls.LlsGuard.Check(kind, lv, args, vg);
                return;
            }
        }
        catch (Exception e) when (e is IOException or FormatException or UnauthorizedAccessException or LvmException)
        {
            // Read by LVM below (which says what is wrong, if anything is).
        }

        // One report for the LVs and the VG's tags (the quotas operators set).
        var (lvs, report) = await _lvm.ListLvsWithVgAsync(lv.Vg, ct).ConfigureAwait(false);
        Lls.LlsGuard.Check(kind, lv, args, lvs, report.Tags);
    }

    public async Task<OperationOutcome> HandleAsync(OperationContext context, CancellationToken leaseLost)
    {
        ArgumentNullException.ThrowIfNull(context);
        var started = _time.GetTimestamp();
        var waited = _time.GetUtcNow() - context.SubmittedAt;
        var outcome = await HandleCoreAsync(context, leaseLost).ConfigureAwait(false);
        _metrics.OperationDone(context.Request.Kind, outcome.Status == OperationStatus.Succeeded ? "succeeded" : outcome.Data ?? "failed",
            context.Request.SubmittedBy, _time.GetElapsedTime(started), waited);
        return outcome;
    }

    private async Task<OperationOutcome> HandleCoreAsync(OperationContext op, CancellationToken ct)
    {
        if (op.Request.Kind == CoordinatorSettings.StorageFenceKind)
        {
            try
            {
                return await _storageFence.HandleAsync(op, ct).ConfigureAwait(false);
            }
            catch (LvmException e)
            {
                return new OperationOutcome(OperationStatus.Failed, $"fencing {op.Request.Payload} by the storage failed: {e.Message}", e.Code, [], []);
            }
        }

        var permit = new LeaderPermit(op.Lease, _options.Host);
        return (await RunAsync(op.Request, async (handler, lv, args, c) => await handler.RunAsync(new OperationRun(lv, args, permit, op), c).ConfigureAwait(false), ct).ConfigureAwait(false))!;
    }

    /// <summary>Whether <paramref name="kind"/> can run on the host where it is asked, under LVM's own locks (<see cref="IRunsUnderLvmLock"/>).</summary>
    public bool RunsUnderLvmLock(string kind) => _byKind.GetValueOrDefault(kind) is IRunsUnderLvmLock;

    /// <summary>
    /// Runs an operation on this host outside the coordinator's queue (lvmlockd mode) under
    /// <paramref name="permit"/>, with the same checks, events and refusals as a queued one; null
    /// when it must go through the queue after all (nothing was written).
    /// </summary>
    public async Task<OperationOutcome?> RunHereAsync(OperationRequest request, MetadataWritePermit permit, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        var started = _time.GetTimestamp();
        var outcome = await RunAsync(request, (handler, lv, args, c) => ((IRunsUnderLvmLock)handler).RunHereAsync(lv, args, request.Id, permit, c), ct).ConfigureAwait(false);
        if (outcome is not null)
        {
            _metrics.OperationDone(request.Kind, outcome.Status == OperationStatus.Succeeded ? "succeeded" : outcome.Data ?? "failed", request.SubmittedBy, _time.GetElapsedTime(started), TimeSpan.Zero);
        }

        return outcome;
    }

    /// <summary>The handler of the request's kind, run on its LV: its result, its event (with the new <c>vg_seqno</c>) and claim changes, or its refusal; null when the handler declined.</summary>
    private async Task<OperationOutcome?> RunAsync(OperationRequest request, Func<IVolumeOperation, LvRef, LvOperation, CancellationToken, Task<OperationDone?>> run, CancellationToken ct)
    {
        var args = JsonSerializer.Deserialize(request.Payload, AgentJsonContext.Default.LvOperation)!;
        var lv = new LvRef(_options.VolumeGroup, args.Lv);
        try
        {
            var handler = _byKind.GetValueOrDefault(request.Kind) ?? throw new BadRequest($"unknown operation kind '{request.Kind}'");
            if (args.Owner is not null && request.Kind != OperationKinds.LlsQuota)
            {
                await CheckLlsAsync(request.Kind, lv, args, ct).ConfigureAwait(false);
            }

            if (await run(handler, lv, args, ct).ConfigureAwait(false) is not { } done)
            {
                return null;
            }

            // The sequence number the command reported committing, or the one read with the LV;
            // a vgs only when neither said.
            var seqno = done.Seqno ?? (await _lvm.GetVgAsync(_options.VolumeGroup, ct).ConfigureAwait(false)).Seqno;
            var ev = new ClusterEvent(done.EventKind, lv.FullName, request.Payload, seqno, request.Id, _options.Host, _time.GetUtcNow());
            return new OperationOutcome(OperationStatus.Succeeded, done.Message, null, [ev], done.Claims.IsDefault ? [] : done.Claims);
        }
        catch (Exception e) when (e is VolumeException or LvmException)
        {
            var code = e is VolumeException v ? v.Code : ((LvmException)e).Code;
            LogRefused(_logger, request.Kind, lv.FullName, code, e.Message);
            return new OperationOutcome(OperationStatus.Failed, e.Message, code, [], []);
        }
    }

    [LoggerMessage(EventId = 3201, Level = LogLevel.Information, Message = "operation {Kind} {Subject} refused ({Code}): {Reason}")]
    private static partial void LogRefused(ILogger logger, string kind, string subject, string code, string reason);
}
