using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using VgMesh.Agent.Api;
using VgMesh.Agent.Operations;
using VgMesh.Client;
using VgMesh.Lvm;
using VgMesh.Sync;

namespace VgMesh.Agent.Sync;

/// <summary>
/// <c>POST /v1/lvs/{name}/backup</c> (Cinder-style): a snapshot of the LV through the
/// coordinator, its content streamed from the snapshot (a point in time, while the origin stays
/// in use), the snapshot removed again. With <c>incremental</c> the snapshot is kept as the
/// chain's base (<c>NAME-vgbk-a</c> or <c>-b</c>): the next run takes the other one, sends the
/// chunks the base recorded as changed, read from the new snapshot, and drops the old base.
/// Runs on the host where the LV is active (any agent relays there). Whatever stops it, the
/// client going away included, the snapshot it made is removed.
/// </summary>
public sealed partial class BackupService(VolumeService volumes, LvmDriver lvm, PeerRelay relay, AgentOptions options, TimeProvider time, ILogger<BackupService> logger)
{
    /// <summary>What the answer carries: <c>full</c> (the whole LV, raw) or <c>delta</c> (a vgmesh delta stream).</summary>
    public const string KindHeader = "X-Vgmesh-Backup";

    private readonly ConcurrentDictionary<string, SemaphoreSlim> _running = new(StringComparer.Ordinal);

    private static string BaseA(string lv) => lv + "-vgbk-a";

    private static string BaseB(string lv) => lv + "-vgbk-b";

    private static string Temporary(string lv) => lv + "-vgbk-tmp";

    public async Task BackupAsync(HttpContext http, string name, bool incremental, bool fresh, string? cowSize, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(http);
        LvmNames.ValidateLv(name);
        if (cowSize is not null)
        {
            Api.VolumeService.ParseSize(cowSize, allowRelative: false); // refused here, not after a relay
        }

        var lvs = await lvm.ListLvsAsync(options.VolumeGroup, ct).ConfigureAwait(false);
        var origin = lvs.FirstOrDefault(l => l.Name == name) ?? throw new LvNotFound($"{options.VolumeGroup}/{name}");
        if (origin.IsSnapshot)
        {
            throw new SyncException("not-an-origin", $"{origin.FullName} is a snapshot; back up its origin {origin.Origin}.");
        }

        if (!origin.ActiveLocally)
        {
            await RelayAsync(http, name, incremental, fresh, cowSize, ct).ConfigureAwait(false);
            return;
        }

        var gate = _running.GetOrAdd(name, _ => new SemaphoreSlim(1, 1));
        if (!await gate.WaitAsync(0, ct).ConfigureAwait(false))
        {
            throw new SyncException("backup-running", $"a backup of {origin.FullName} is running on {options.Host}; wait for it to end.");
        }

        try
        {
            // The copy-on-write space only has to hold what the origin's users write during the copy.
            var cow = cowSize ?? Math.Max(16L, (origin.SizeBytes / 10) >> 20).ToString(CultureInfo.InvariantCulture) + "M";
            var names = lvs.Select(l => l.Name).ToHashSet(StringComparer.Ordinal);
            // Left by a run that died with its agent: nothing else makes this name.
            if (names.Contains(Temporary(name)))
            {
                await RemoveAsync(Temporary(name), CancellationToken.None).ConfigureAwait(false);
            }

            if (!incremental)
            {
                // A one-off backup: its own snapshot, never a chain's base.
                await FullAsync(http, name, Temporary(name), cow, keep: false, ct).ConfigureAwait(false);
                return;
            }

            var a = names.Contains(BaseA(name)) ? BaseA(name) : null;
            var b = names.Contains(BaseB(name)) ? BaseB(name) : null;
            if (a is not null && b is not null)
            {
                // A run died between taking the new base and dropping the old: which is newer is not known, so both go.
                await RemoveAsync(a, CancellationToken.None).ConfigureAwait(false);
                await RemoveAsync(b, CancellationToken.None).ConfigureAwait(false);
                a = b = null;
            }

            var current = a ?? b;
            if (fresh)
            {
                if (current is not null)
                {
                    await RemoveAsync(current, CancellationToken.None).ConfigureAwait(false);
                }

                await FullAsync(http, name, BaseA(name), cow, keep: true, ct).ConfigureAwait(false);
                return;
            }

            if (current is null)
            {
                throw new SyncException("no-base", $"{origin.FullName} has no base snapshot for an incremental backup (it was removed, or the chain was started elsewhere): start a new chain in an empty directory.");
            }

            await DeltaAsync(http, name, current, current == BaseA(name) ? BaseB(name) : BaseA(name), cow, ct).ConfigureAwait(false);
        }
        finally
        {
            gate.Release();
        }
    }

    private async Task FullAsync(HttpContext http, string origin, string snap, string cow, bool keep, CancellationToken ct)
    {
        var (ok, removed) = (false, false);
        try
        {
            // Inside the try: a client gone while the snapshot is made still gets it removed.
            await volumes.SnapshotAsync(origin, new SnapshotLvBody(snap, cow), null, null, ct).ConfigureAwait(false);
            byte[] last = [];
            using (var source = BlockFile.Open(Device(snap), write: false))
            {
                http.Response.ContentType = "application/octet-stream";
                http.Response.ContentLength = source.Length;
                http.Response.Headers[KindHeader] = "full";
                await SyncResponse.WriteAsync(http, body =>
                {
                    using var buffer = new AlignedBuffer(DeltaLayout.MaxRecordBytes);
                    for (long at = 0; at < source.Length; at += buffer.Length)
                    {
                        var n = (int)Math.Min(buffer.Length, source.Length - at);
                        if (source.Read(buffer.Span[..n], at) < n)
                        {
                            throw new SyncException("origin-short", $"{source.Path} ended at {at}.");
                        }

                        if (at + n == source.Length)
                        {
                            last = buffer.Span[..n].ToArray();
                            break;
                        }

                        body.Write(buffer.Span[..n]);
                        ct.ThrowIfCancellationRequested();
                    }
                }, ct).ConfigureAwait(false);
            }

            // The last bytes go only once a one-off snapshot is gone: the client's command ends
            // when it has them, and must leave nothing behind (a CI run of 2026-12-06 listed
            // the snapshot right after the command had returned).
            if (!keep)
            {
                await RemoveAsync(snap, CancellationToken.None).ConfigureAwait(false);
                removed = true;
            }

            await http.Response.Body.WriteAsync(last, ct).ConfigureAwait(false);
            ok = true;
        }
        finally
        {
            if ((!ok || !keep) && !removed)
            {
                await RemoveAsync(snap, CancellationToken.None).ConfigureAwait(false);
            }
        }
    }

    /// <summary>The chunks the base recorded as changed, read from a new snapshot: the delta up to that point in time.</summary>
    private async Task DeltaAsync(HttpContext http, string origin, string current, string next, string cow, CancellationToken ct)
    {
        var ok = false;
        try
        {
            await volumes.SnapshotAsync(origin, new SnapshotLvBody(next, cow), null, null, ct).ConfigureAwait(false);
            using var store = BlockFile.Open(Device(current) + "-cow", write: false);
            using var source = BlockFile.Open(Device(next), write: false);
            http.Response.ContentType = DeltaService.ContentType;
            http.Response.Headers[KindHeader] = "delta";
            await SyncResponse.WriteAsync(http, body => DeltaSender.Send(store, source, body, DeltaFormat.VgMesh, time), ct).ConfigureAwait(false);
            ok = true;
        }
        finally
        {
            // Success: the new snapshot is the base from now on. Failure: it goes, the old base stays.
            await RemoveAsync(ok ? current : next, CancellationToken.None).ConfigureAwait(false);
        }
    }

    private string Device(string lv) => SyncResponse.Device(options.VolumeGroup, lv);

    private async Task RemoveAsync(string snap, CancellationToken ct)
    {
        try
        {
            await volumes.RemoveAsync(snap, null, null, ct).ConfigureAwait(false);
        }
        catch (LvNotFound)
        {
            // Never made (the run stopped before the snapshot was), or already gone.
        }
        catch (Exception e) when (e is VolumeException or LvmException)
        {
            // Not fatal to the backup's answer, but never silent: a snapshot left behind fills up.
            LogCleanupFailed(logger, $"{options.VolumeGroup}/{snap}", e.Message);
        }
    }

    private Task RelayAsync(HttpContext http, string name, bool incremental, bool fresh, string? cowSize, CancellationToken ct) =>
        relay.RelayAsync(http, name, null, HttpMethod.Post,
            $"/v1/lvs/{Uri.EscapeDataString(name)}/backup?incremental={(incremental ? "true" : "false")}&fresh={(fresh ? "true" : "false")}{(cowSize is null ? "" : "&cowSize=" + Uri.EscapeDataString(cowSize))}",
            $"{options.VolumeGroup}/{name} is not active on any host: a backup reads it through a snapshot in the kernel where it is active. Activate it (vgmesh lv activate {name} --host HOST), or copy the inactive LV with dd.",
            [KindHeader], ct);

    [LoggerMessage(EventId = 3301, Level = LogLevel.Warning, Message = "backup: could not remove snapshot {Snapshot}: {Reason}; remove it by hand (vgmesh lv remove)")]
    private static partial void LogCleanupFailed(ILogger logger, string snapshot, string reason);
}
