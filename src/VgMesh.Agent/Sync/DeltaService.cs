using Microsoft.AspNetCore.Http;
using VgMesh.Agent.Operations;
using VgMesh.Lvm;
using VgMesh.Lvm.Reports;
using VgMesh.Sync;

namespace VgMesh.Agent.Sync;

/// <summary>
/// <c>GET /v1/lvs/{snapshot}/delta</c>: the chunks a classic snapshot recorded as changed, read
/// on the host where it is active (its exception store and its origin are devices there). Asked
/// of another host, this agent relays the holder's stream. Nothing here changes metadata, so it
/// needs no coordinator.
/// </summary>
public sealed class DeltaService(LvmDriver lvm, PeerRelay relay, AgentOptions options, TimeProvider time)
{
    public const string ContentType = "application/vnd.vgmesh.delta";

    public static DeltaFormat ParseFormat(string? format) => format switch
    {
        null or "" or "vgmesh" => DeltaFormat.VgMesh,
        "lvmsync" => DeltaFormat.Lvmsync,
        _ => throw new ArgumentException($"unknown delta format '{format}': use vgmesh (the default) or lvmsync"),
    };

    public async Task SendAsync(HttpContext http, string name, string? format, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(http);
        LvmNames.ValidateLv(name);
        var wire = ParseFormat(format);
        var lvs = await lvm.ListLvsAsync(options.VolumeGroup, ct).ConfigureAwait(false);
        var snap = lvs.FirstOrDefault(l => l.Name == name) ?? throw new LvNotFound($"{options.VolumeGroup}/{name}");
        Check(snap);
        if (!snap.ActiveLocally)
        {
            await RelayAsync(http, snap, wire, ct).ConfigureAwait(false);
            return;
        }

        using var cowFile = BlockFile.Open(SyncResponse.Device(options.VolumeGroup, name) + "-cow", write: false);
        using var originFile = BlockFile.Open(SyncResponse.Device(options.VolumeGroup, snap.Origin!), write: false);
        http.Response.ContentType = ContentType;
        http.Response.Headers["X-Vgmesh-Host"] = options.Host;
        await SyncResponse.WriteAsync(http, body => DeltaSender.Send(cowFile, originFile, body, wire, time), ct).ConfigureAwait(false);
    }

    /// <summary>A snapshot whose changes can be read: a classic one, not invalid.</summary>
    internal static void Check(LogicalVolume snap)
    {
        if (!snap.IsSnapshot || snap.Origin is null)
        {
            throw new SyncException("not-a-snapshot", $"{snap.FullName} is not a classic snapshot: name the snapshot whose changes to send (vgmesh lv list shows ORIGIN for each).");
        }

        if (snap.Attributes.State is LvState.InvalidSnapshot or LvState.InvalidSuspendedSnapshot)
        {
            throw new SyncException("snapshot-invalid", $"{snap.FullName} is invalid (it filled up): its changes are not known. Copy the whole origin once, then take a new snapshot.");
        }
    }

    private Task RelayAsync(HttpContext http, LogicalVolume snap, DeltaFormat wire, CancellationToken ct) =>
        relay.RelayAsync(http, snap.Name, snap.Origin, HttpMethod.Get, $"/v1/lvs/{Uri.EscapeDataString(snap.Name)}/delta?format={(wire == DeltaFormat.Lvmsync ? "lvmsync" : "vgmesh")}",
            $"{snap.FullName} is not active on any host, so its changes cannot be read: activate its origin {snap.Origin} on a host (vgmesh lv activate {snap.Origin} --host HOST).", [], ct);
}
