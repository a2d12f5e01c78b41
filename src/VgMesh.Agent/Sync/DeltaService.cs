using Microsoft.AspNetCore.Http;
using VgMesh.Agent.Operations;
using VgMesh.Lvm;
using VgMesh.Lvm.Reports;
using VgMesh.Sync;

namespace VgMesh.Agent.Sync;

/// <summary>
/// <c>GET /v1/lvs/{snapshot}/delta</c>: the chunks a snapshot records as changed, read on the host
/// where they can be: a classic snapshot's exception store where it is active; a thin snapshot's
/// differences from its origin (<c>thin_delta</c>) where the origin, and so its pool, is active.
/// Asked of another host, this agent relays the holder's stream. Nothing here changes metadata,
/// so it needs no coordinator.
/// </summary>
public sealed class DeltaService(LvmDriver lvm, ThinPools thin, PeerRelay relay, AgentOptions options, TimeProvider time)
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
        if (!ReadableHere(snap, lvs))
        {
            await RelayAsync(http, snap, wire, ct).ConfigureAwait(false);
            return;
        }

        using var local = await OpenLocalAsync(snap, lvs, wire, ct).ConfigureAwait(false);
        http.Response.ContentType = ContentType;
        http.Response.Headers["X-Vgmesh-Host"] = options.Host;
        await SyncResponse.WriteAsync(http, body => local.SendTo(body), ct).ConfigureAwait(false);
    }

    /// <summary>A thin volume with an origin: a snapshot of it taken in its pool (<c>lvcreate -s</c> without a size).</summary>
    public static bool IsThinSnapshot(LogicalVolume lv) => lv.IsThin && lv.Origin is not null;

    /// <summary>A snapshot whose changes can be read: a classic one that is not invalid, or a thin one.</summary>
    internal static void Check(LogicalVolume snap)
    {
        if (IsThinSnapshot(snap))
        {
            return;
        }

        if (!snap.IsSnapshot || snap.Origin is null)
        {
            throw new SyncException("not-a-snapshot", $"{snap.FullName} is not a snapshot: name the snapshot (classic or thin) whose changes to send (vgmesh lv list shows ORIGIN for each).");
        }

        if (snap.Attributes.State is LvState.InvalidSnapshot or LvState.InvalidSuspendedSnapshot)
        {
            throw new SyncException("snapshot-invalid", $"{snap.FullName} is invalid (it filled up): its changes are not known. Copy the whole origin once, then take a new snapshot.");
        }
    }

    /// <summary>
    /// Whether this kernel has what the delta is read from: a classic snapshot's devices, or a
    /// thin snapshot's origin (a thin snapshot itself is usually not active: LVM skips it at
    /// activation, and its mappings are in the pool's metadata).
    /// </summary>
    internal static bool ReadableHere(LogicalVolume snap, IReadOnlyList<LogicalVolume> lvs) =>
        IsThinSnapshot(snap) ? lvs.Any(l => l.Name == snap.Origin && l.ActiveLocally) : snap.ActiveLocally;

    /// <summary>The delta read in this kernel, ready to stream; <see cref="ReadableHere"/> must hold.</summary>
    internal async Task<LocalDelta> OpenLocalAsync(LogicalVolume snap, IReadOnlyList<LogicalVolume> lvs, DeltaFormat wire, CancellationToken ct)
    {
        var origin = SyncResponse.Device(options.VolumeGroup, snap.Origin!);
        if (!IsThinSnapshot(snap))
        {
            var cow = BlockFile.Open(SyncResponse.Device(options.VolumeGroup, snap.Name) + "-cow", write: false);
            return new LocalDelta(cow, BlockFile.Open(origin, write: false), null, wire, time);
        }

        var originLv = lvs.First(l => l.Name == snap.Origin);
        var ids = await lvm.ThinIdsAsync(options.VolumeGroup, [snap.Name, originLv.Name], ct).ConfigureAwait(false);
        if (!ids.TryGetValue(snap.Name, out var left) || !ids.TryGetValue(originLv.Name, out var right))
        {
            throw new SyncException("not-a-snapshot", $"LVM gave no thin id for {snap.FullName} or {originLv.FullName}: they are not devices of pool {snap.PoolLv}.");
        }

        // The pool's metadata snapshot is held only while thin_delta reads it, not while the data streams.
        var report = await thin.DeltaAsync(options.VolumeGroup, snap.PoolLv!, left, right, ct).ConfigureAwait(false);
        var changed = ThinDeltaReport.Read(new StringReader(report), left, right, originLv.SizeBytes);
        return new LocalDelta(null, BlockFile.Open(origin, write: false), changed, wire, time);
    }

    private Task RelayAsync(HttpContext http, LogicalVolume snap, DeltaFormat wire, CancellationToken ct) =>
        relay.RelayAsync(http, snap.Name, snap.Origin, HttpMethod.Get, $"/v1/lvs/{Uri.EscapeDataString(snap.Name)}/delta?format={(wire == DeltaFormat.Lvmsync ? "lvmsync" : "vgmesh")}",
            $"{snap.FullName} is not active on any host, so its changes cannot be read: activate its origin {snap.Origin} on a host (vgmesh lv activate {snap.Origin} --host HOST).", [], ct);
}

/// <summary>A snapshot's delta as this kernel has it: a classic snapshot's exception store, or the chunks thin_delta named; read from the origin as it streams.</summary>
internal sealed class LocalDelta(BlockFile? cow, BlockFile origin, ChangedChunks? changed, DeltaFormat wire, TimeProvider time) : IDisposable
{
    /// <summary>Writes the whole delta to <paramref name="output"/> (synchronous I/O: run it off the request's thread).</summary>
    public TransferSummary SendTo(Stream output) =>
        changed is null ? DeltaSender.Send(cow!, origin, output, wire, time) : DeltaSender.Send(changed, origin, output, wire, time);

    public void Dispose()
    {
        cow?.Dispose();
        origin.Dispose();
    }
}
