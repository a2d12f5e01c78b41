using VgMesh.Client;
using VgMesh.Lvm.DeviceMapper;
using VgMesh.Lvm.Scsi;

namespace VgMesh.Agent;

/// <summary>
/// What this host last saw of the shared LUN: its paths (read by the metrics sampler every 2 s)
/// and its registration (read by the registration keeper every 2 s). The reconcile pass reports
/// it with the host's status, so 'vgmesh host show' on any host tells every host's paths and
/// whether the storage would take its writes. Null where storage fencing is off.
/// </summary>
public sealed class StorageState(AgentOptions options)
{
    private StorageView? _view;

    public StorageView? Current => Volatile.Read(ref _view);

    public void Paths(MultipathStatus status)
    {
        ArgumentNullException.ThrowIfNull(status);
        Update(v => v with { Paths = [.. status.Paths.Select(p => new PathView(p.Device, p.Active ? "active" : "failed", p.FailCount))] });
    }

    public void Registration(ReservationState state, ReservationKey own, bool lost, DateTimeOffset at)
    {
        ArgumentNullException.ThrowIfNull(state);
        var registration = state.IsRegistered(own) ? "registered" : lost ? "preempted" : "unregistered";
        Update(v => v with { Registration = registration, Holder = state.Holder?.ToString(), ReservationType = state.Type, At = at });
    }

    /// <summary>The LUN could not be read: what was known of the reservation no longer holds.</summary>
    public void Unreadable(DateTimeOffset at) => Update(v => v with { Registration = "unreadable", Holder = null, ReservationType = null, At = at });

    private void Update(Func<StorageView, StorageView> change)
    {
        if (options.ReservationDevice is not { } device)
        {
            return;
        }

        // Two writers (sampler and keeper) each change their own fields: retry on a race.
        while (true)
        {
            var seen = Volatile.Read(ref _view);
            var next = change(seen ?? new StorageView(device, options.OwnReservationKey.ToString(), "unknown", null, null, [], null));
            if (Interlocked.CompareExchange(ref _view, next, seen) == seen)
            {
                return;
            }
        }
    }
}
