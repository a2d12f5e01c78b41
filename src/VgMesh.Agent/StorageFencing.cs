using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using VgMesh.Agent.Operations;
using VgMesh.Agent.Telemetry;
using VgMesh.Cluster;
using VgMesh.Cluster.Contact;
using VgMesh.Cluster.Coordinator;
using VgMesh.Lvm;
using VgMesh.Lvm.Scsi;

namespace VgMesh.Agent;

/// <summary>
/// The coordinator's side of storage fencing: the handler of a <c>storage-fence</c> operation
/// (<see cref="CoordinatorSettings.StorageFenceKind"/>), which the coordinator submits for a
/// host the cluster has put out. It preempts that host's key on the LUN, under the lease; from
/// then on the target refuses the host's writes on every path, whatever state the host is in
/// (paused, cut off, its agent dead). Only after this succeeds does the coordinator stop counting
/// the host's report, so nothing it had active moves before.
/// </summary>
public sealed partial class StorageFence(PersistentReservations reservations, AgentOptions options, TimeProvider time, ILogger<StorageFence> logger)
{
    /// <summary>The event every preemption is recorded with, in the journal and the event stream.</summary>
    public const string HostFencedEvent = "host-fenced";

    public async Task<OperationOutcome> HandleAsync(OperationContext op, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(op);
        var victim = op.Request.Payload;
        if (options.ReservationDevice is not { } device)
        {
            return OperationOutcome.Failed($"cannot fence {victim} by the storage: this host has no ReservationDevice set; set it on every host (docs/operations.md, storage fencing)");
        }

        if (victim == options.Host || victim.Length is 0 or > 253 || victim.AsSpan().ContainsAnyExceptInRange('!', '~'))
        {
            return OperationOutcome.Failed($"'{victim}' is not a host this coordinator can fence by the storage");
        }

        if (!op.Hosts.IsOut(victim))
        {
            // Queued while it was out, run after it came back (or recovered by a new coordinator
            // from an older one's queue): a member is never fenced. The coordinator asks again
            // if the cluster puts it out again.
            return OperationOutcome.Failed($"{victim} is a member of the cluster again: not fenced by the storage");
        }

        var key = ReservationKey.For(options.Cluster, victim);
        var own = options.OwnReservationKey;
        var before = await reservations.ReadAsync(device, ct).ConfigureAwait(false);
        if (!before.IsRegistered(own))
        {
            // Only a registrant may preempt; this host registers at start (RegistrationService).
            return OperationOutcome.Failed($"cannot fence {victim} by the storage: this host's key {own} is not registered on {device} (yet); the coordinator tries again");
        }

        if (before.Holder is null)
        {
            // Without a reservation the target lets everyone write: removing a key would fence nothing.
            await reservations.ReserveAsync(device, own, ct).ConfigureAwait(false);
        }

        string how;
        if (!before.IsRegistered(key) && before.Holder != key)
        {
            how = "already not registered";
        }
        else
        {
            how = await reservations.PreemptAsync(device, own, key, new LeaderPermit(op.Lease, options.Host), ct).ConfigureAwait(false);
        }

        var after = await reservations.ReadAsync(device, ct).ConfigureAwait(false);
        if (after.IsRegistered(key) || after.Holder is null)
        {
            return OperationOutcome.Failed($"fencing {victim} by the storage did not take: after {how}, key {key} is {(after.IsRegistered(key) ? "still registered" : "gone but no reservation is held")} on {device}");
        }

        LogFenced(logger, victim, key, how, device);
        var ev = new ClusterEvent(HostFencedEvent, victim, $"key={key} by={how} device={device}", null, op.Request.Id, options.Host, time.GetUtcNow());
        return new OperationOutcome(OperationStatus.Succeeded, $"{victim}'s registration {key} preempted on {device} ({how}): the LUN refuses its writes", null, [ev], []);
    }

    [LoggerMessage(EventId = 3410, Level = LogLevel.Warning, Message = "host {Victim} fenced by the storage: key {Key} preempted ({How}) on {Device}; it cannot write to the LUN until its agent registers again")]
    private static partial void LogFenced(ILogger logger, string victim, ReservationKey key, string how, string device);
}

/// <summary>
/// Every host's side of storage fencing: keeps this host's key registered on the LUN and a
/// reservation "write exclusive, registrants only" in place (whoever of the registered hosts
/// finds none takes it). A key found missing after this host had registered means it was
/// preempted: everything it held is fenced here first (error tables), and only then, once a
/// coordinator answers it again (it is a member of the cluster again), is the key registered
/// again. So a host the coordinator fenced never writes again before it has given up what it held.
/// </summary>
public sealed partial class RegistrationService(
    PersistentReservations reservations, FencingService fencing, ContactClock contact, AgentMetrics metrics, StorageState storage, AgentOptions options, TimeProvider time, ILogger<RegistrationService> logger) : BackgroundService
{
    private static readonly TimeSpan Every = TimeSpan.FromSeconds(2);
    private bool _fencedForLoss, _toldWaiting;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (options.ReservationDevice is not { } device)
        {
            return;
        }

        var own = options.OwnReservationKey;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await KeepAsync(device, own, stoppingToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is LvmException or IOException)
            {
                LogFailed(logger, device, e.Message);
                storage.Unreadable(time.GetUtcNow());
            }

            await Task.Delay(Every, time, stoppingToken).ConfigureAwait(false);
        }
    }

    private async Task KeepAsync(string device, ReservationKey own, CancellationToken ct)
    {
        var state = await reservations.ReadAsync(device, ct).ConfigureAwait(false);
        storage.Registration(state, own, lost: File.Exists(options.RegistrationFile), time.GetUtcNow());
        if (!state.IsRegistered(own))
        {
            metrics.StorageRegistered(false);
            if (File.Exists(options.RegistrationFile))
            {
                // Registered before, missing now: preempted (or the LUN's registrations were
                // cleared). Nothing held here may write once the key is back.
                if (!_fencedForLoss)
                {
                    LogPreempted(logger, own, device);
                    await fencing.FenceAllAsync(ct).ConfigureAwait(false);
                    _fencedForLoss = true;
                }

                if (contact.SinceContact > TimeSpan.FromSeconds(options.FenceAfterSeconds))
                {
                    // Said once per loss, not every round.
                    if (!_toldWaiting)
                    {
                        LogWaiting(logger);
                        _toldWaiting = true;
                    }

                    return;
                }
            }

            await reservations.RegisterAsync(device, own, ct).ConfigureAwait(false);
            await File.WriteAllTextAsync(options.RegistrationFile, own + "\n", ct).ConfigureAwait(false);
            (_fencedForLoss, _toldWaiting) = (false, false);
            LogRegistered(logger, own, device);
            state = await reservations.ReadAsync(device, ct).ConfigureAwait(false);
            storage.Registration(state, own, lost: false, time.GetUtcNow());
        }

        metrics.StorageRegistered(state.IsRegistered(own));
        if (state.Holder is null && state.IsRegistered(own))
        {
            try
            {
                await reservations.ReserveAsync(device, own, ct).ConfigureAwait(false);
                LogReserved(logger, device);
            }
            catch (LvmCommandException)
            {
                // Another registered host took it first (a reservation conflict): nothing to do.
            }
        }
    }

    [LoggerMessage(EventId = 3411, Level = LogLevel.Information, Message = "registered this host's key {Key} on {Device} (SCSI-3 persistent reservations)")]
    private static partial void LogRegistered(ILogger logger, ReservationKey key, string device);

    [LoggerMessage(EventId = 3412, Level = LogLevel.Critical, Message = "this host's key {Key} is no longer registered on {Device}: the coordinator fenced it by the storage. Fencing what it held before registering again")]
    private static partial void LogPreempted(ILogger logger, ReservationKey key, string device);

    [LoggerMessage(EventId = 3413, Level = LogLevel.Warning, Message = "not registering again until a coordinator answers this host (it is not back in the cluster)")]
    private static partial void LogWaiting(ILogger logger);

    [LoggerMessage(EventId = 3414, Level = LogLevel.Information, Message = "no reservation was held on {Device}: took it (write exclusive, registrants only)")]
    private static partial void LogReserved(ILogger logger, string device);

    [LoggerMessage(EventId = 3415, Level = LogLevel.Error, Message = "storage fencing: reading or registering on {Device} failed: {Reason}; trying again")]
    private static partial void LogFailed(ILogger logger, string device, string reason);
}
