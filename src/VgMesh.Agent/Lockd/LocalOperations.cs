using Microsoft.Extensions.Logging;
using VgMesh.Agent.Operations;
using VgMesh.Cluster;
using VgMesh.Cluster.Coordinator;
using VgMesh.Lvm.Commands;

namespace VgMesh.Agent.Lockd;

/// <summary>
/// The right to write the VG's metadata from this host in lvmlockd mode. The fence is LVM's
/// own: every command takes the VG's lock from lvmlockd (a sanlock lease on the shared disk) for
/// its write, and a host whose lockspace is gone can take none. This checks only that this host's
/// lockspace is started; its fencing token is the host's sanlock host id, the one the journal
/// records with the command.
/// </summary>
public sealed class LockdPermit(LockdState lockd, string host) : MetadataWritePermit
{
    public override string Holder => host;

    public override long FencingToken => lockd.Current?.HostId ?? 0;

    public override void EnsureValid()
    {
        var view = lockd.Current;
        if (view is not { State: LocalOperations.Started })
        {
            throw new Operations.OperationRefused("lockspace-stopped",
                $"{host}'s lvmlockd lockspace is {view?.State ?? "not known"}{(view?.Error is { } e ? $" ({e})" : "")}: no metadata can be written from here; see 'vgmesh host show {host}'.");
        }
    }
}

/// <summary>
/// lvmlockd mode (issue #16): a change LVM's own locks serialize runs on the host where it is
/// asked, not in the coordinator's queue: create, tag, an extend on the LV's holder (or of an LV
/// active nowhere), a remove of an LV active nowhere. The coordinator then records it (numbered
/// events, claim changes, one journal entry) and every host applies it as in the default mode.
/// Whatever needs the cluster's view (activation and handoffs, a change LVM refuses here because
/// another host holds the LV's lock, LLS requests checked against a container's quota) goes
/// through the queue as before.
/// </summary>
public sealed partial class LocalOperations(VolumeOperations operations, LockdState lockd, AgentCluster cluster, AgentOptions options, ILogger<LocalOperations> logger)
{
    public const string Started = "started";

    /// <summary>
    /// Operations run here whose record no coordinator answered (none there, one failing over):
    /// the change is on disk, and the answer told the client to resubmit with the id. A
    /// resubmission sends the same record again instead of running the change twice. In memory:
    /// an agent restarted meanwhile has the resubmission go to the queue, which refuses a create
    /// of an LV that exists and says so.
    /// </summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, (OperationRequest Request, OperationOutcome Outcome)> _unrecorded = new(StringComparer.Ordinal);

    /// <summary>Whether this host runs <paramref name="kind"/> itself now: the VG uses lvmlockd and this host's lockspace is started.</summary>
    public bool Takes(string kind) => lockd.Current is { State: Started } && operations.RunsUnderLvmLock(kind);

    /// <summary>
    /// Runs the operation here and has the coordinator record it; null when it must be submitted
    /// to the queue instead (nothing was written here). An outcome that could not be recorded
    /// within <paramref name="wait"/> is <see cref="SubmitAnswer.OutcomeUnknown"/>: resending the
    /// same id records it once (the change itself is on disk, and every host's device watch sees it).
    /// </summary>
    public async Task<SubmitAnswer?> RunAsync(OperationRequest request, TimeSpan wait, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        var outcome = await operations.RunHereAsync(request, new LockdPermit(lockd, options.Host), ct).ConfigureAwait(false);
        if (outcome is null)
        {
            LogQueued(logger, request.Kind, request.Id);
            return null;
        }

        return await RecordAsync(request, outcome, wait, ct).ConfigureAwait(false);
    }

    /// <summary>The record of an operation run here before whose answer was unknown, sent again; null when this host has no such record of <paramref name="request"/>.</summary>
    public async Task<SubmitAnswer?> ResendAsync(OperationRequest request, TimeSpan wait, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        return _unrecorded.TryGetValue(request.Id, out var kept) && kept.Request == request
            ? await RecordAsync(request, kept.Outcome, wait, ct).ConfigureAwait(false)
            : null;
    }

    private async Task<SubmitAnswer> RecordAsync(OperationRequest request, OperationOutcome outcome, TimeSpan wait, CancellationToken ct)
    {
        var answer = await cluster.RecordAsync(request, outcome, wait, ct).ConfigureAwait(false);
        if (answer is SubmitAnswer.OutcomeUnknown)
        {
            if (_unrecorded.Count > 1000)
            {
                _unrecorded.Clear(); // a bound for an agent without a coordinator for long
            }

            _unrecorded[request.Id] = (request, outcome);
        }
        else
        {
            _unrecorded.TryRemove(request.Id, out _);
        }

        return answer;
    }

    [LoggerMessage(EventId = 3408, Level = LogLevel.Information, Message = "operation {Kind} {Id}: LVM's lock is another host's, or the change needs the cluster's view; submitted to the coordinator's queue")]
    private static partial void LogQueued(ILogger logger, string kind, string id);
}
