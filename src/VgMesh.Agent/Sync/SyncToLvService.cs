using System.IO.Pipelines;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using VgMesh.Agent.Operations;
using VgMesh.Client;
using VgMesh.Lvm;
using VgMesh.Sync;

namespace VgMesh.Agent.Sync;

/// <summary>
/// <c>POST /v1/lvs/{dest}/sync?snapshot=SNAP</c>: a snapshot's delta applied to another LV of the
/// cluster, on the host where that LV is active, which pulls the stream from the snapshot's
/// holder over the agents' authenticated channel (or reads it in its own kernel when it holds
/// both). Asked of another host, this agent relays the request to the destination's holder.
/// Only block data is written; no metadata changes, so no coordinator.
/// </summary>
public sealed class SyncToLvService(LvmDriver lvm, DeltaService deltas, PeerRelay relay, PeerClient peers, AgentOptions options, TimeProvider time)
{
    /// <summary>
    /// Checks everything first (a refusal is an ordinary problem answer, nothing written), then
    /// answers with <c>application/x-ndjson</c> <see cref="SyncLine"/>s: progress about every
    /// second while it writes, and the result or the error that stopped it.
    /// </summary>
    /// <param name="relayed">Asked by another agent that took this host for the holder: never relayed again (stale reports must not bounce a request between hosts).</param>
    public async Task ApplyAsync(HttpContext http, string dest, string snapshot, string? format, string? snapback, bool relayed, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(http);
        LvmNames.ValidateLv(dest);
        LvmNames.ValidateLv(snapshot);
        var wire = DeltaService.ParseFormat(format);
        if (snapback is not null && (!Path.IsPathFullyQualified(snapback) || snapback.Split('/').Any(p => p is "." or "..")))
        {
            throw new SyncException("bad-destination", $"--snapback {snapback}: give an absolute path on the destination's host, without . or .. parts.");
        }

        var lvs = await lvm.ListLvsAsync(options.VolumeGroup, ct).ConfigureAwait(false);
        var snap = lvs.FirstOrDefault(l => l.Name == snapshot) ?? throw new LvNotFound($"{options.VolumeGroup}/{snapshot}");
        DeltaService.Check(snap);
        var target = lvs.FirstOrDefault(l => l.Name == dest) ?? throw new LvNotFound($"{options.VolumeGroup}/{dest}");
        if (target.Name == snap.Origin || target.IsSnapshot || DeltaService.IsThinSnapshot(target))
        {
            throw new SyncException("bad-destination", $"{target.FullName} is {(target.Name == snap.Origin ? $"the origin of {snap.FullName}" : "a snapshot")}: sync to a copy, an LV of its own.");
        }

        if (!target.ActiveLocally && relayed)
        {
            throw new SyncException("not-active", $"{target.FullName} is not active on {options.Host}, which the hosts' reports named as its holder: it moved; sync again.");
        }

        if (!target.ActiveLocally)
        {
            await RelayAsync(http, dest, snapshot, wire, snapback, ct).ConfigureAwait(false);
            return;
        }

        if (target.DeviceOpen)
        {
            throw new LvInUse([options.Host], $"{target.FullName} is open on {options.Host} (mounted, or a guest runs on it): writing under it would corrupt what it sees. Stop its user first.");
        }

        using var file = BlockFile.Open(SyncResponse.Device(options.VolumeGroup, dest), write: true);
        using var back = snapback is null ? null : SnapbackFile.Create(snapback);
        await using var input = await OpenDeltaAsync(snap, lvs, wire, ct).ConfigureAwait(false);
        long applied = 0;
        var apply = Task.Run(() =>
        {
            using var buffered = new BufferedStream(input, 1 << 20);
            using var reader = DeltaReader.Open(buffered, $"{snap.FullName}'s delta");
            using var applier = new DeltaApplier(file, back);
            return applier.Apply(reader, time, (done, _) => Interlocked.Exchange(ref applied, done));
        }, ct);

        http.Response.ContentType = "application/x-ndjson";
        http.Response.Headers["X-Vgmesh-Host"] = options.Host;
        await http.Response.StartAsync(ct).ConfigureAwait(false);
        while (await Task.WhenAny(apply, Task.Delay(TimeSpan.FromSeconds(1), time, ct)).ConfigureAwait(false) != apply)
        {
            await LineAsync(http, new SyncLine(Bytes: Interlocked.Read(ref applied)), ct).ConfigureAwait(false);
        }

        try
        {
            var summary = await apply.ConfigureAwait(false);
            await LineAsync(http, new SyncLine(Result: new SyncResultView(options.Host, $"{options.VolumeGroup}/{dest}", summary.Records, summary.DataBytes, summary.BytesWritten, summary.Took.TotalSeconds, snapback)), ct).ConfigureAwait(false);
        }
        catch (SyncException e)
        {
            await LineAsync(http, new SyncLine(Error: new Problem($"https://vgmesh.invalid/problems/{e.Code}", e.Code, 409,
                $"{e.Message} ({(e.BytesWritten == 0 ? "nothing was written" : $"{e.BytesWritten} bytes were written" + (snapback is null ? "" : $"; the snapback {snapback} on {options.Host} undoes them"))})", e.Code)), ct).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            await LineAsync(http, new SyncLine(Error: new Problem("https://vgmesh.invalid/problems/io-error", "io-error", 500, $"writing {options.VolumeGroup}/{dest} on {options.Host} failed: {e.Message}", "io-error")), ct).ConfigureAwait(false);
        }
    }

    private static async Task LineAsync(HttpContext http, SyncLine line, CancellationToken ct)
    {
        await http.Response.WriteAsync(JsonSerializer.Serialize(line, ApiJsonContext.Default.SyncLine) + "\n", ct).ConfigureAwait(false);
        await http.Response.Body.FlushAsync(ct).ConfigureAwait(false);
    }

    /// <summary>The delta: from this kernel when it has the snapshot's devices (<see cref="DeltaService.ReadableHere"/>), else from their holder's agent.</summary>
    private async Task<Stream> OpenDeltaAsync(VgMesh.Lvm.Reports.LogicalVolume snap, IReadOnlyList<VgMesh.Lvm.Reports.LogicalVolume> lvs, DeltaFormat wire, CancellationToken ct)
    {
        if (DeltaService.ReadableHere(snap, lvs))
        {
            var local = await deltas.OpenLocalAsync(snap, lvs, wire, ct).ConfigureAwait(false);
            var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 4 << 20, resumeWriterThreshold: 2 << 20));
            _ = Task.Run(async () =>
            {
                Exception? failed = null;
                try
                {
                    await using var w = pipe.Writer.AsStream();
                    local.SendTo(w);
                }
                catch (Exception e)
                {
                    failed = e; // whatever it is, the reader sees it where the stream stops (never a clean end)
                }
                finally
                {
                    local.Dispose();
                }

                await pipe.Writer.CompleteAsync(failed).ConfigureAwait(false);
            }, ct);
            return pipe.Reader.AsStream();
        }

        if (await relay.HolderAsync(snap.Name, snap.Origin, ct).ConfigureAwait(false) is not { } holder)
        {
            throw new SyncException("not-active", $"{snap.FullName} is not active on any host, so its changes cannot be read: activate its origin {snap.Origin} on a host (vgmesh lv activate {snap.Origin} --host HOST).");
        }

        var r = await peers.SendStreamAsync(holder.Host, holder.Address, HttpMethod.Get,
            $"/v1/lvs/{Uri.EscapeDataString(snap.Name)}/delta?format={(wire == DeltaFormat.Lvmsync ? "lvmsync" : "vgmesh")}", ct).ConfigureAwait(false);
        return new ResponseStream(r, await r.Content.ReadAsStreamAsync(ct).ConfigureAwait(false));
    }

    private async Task RelayAsync(HttpContext http, string dest, string snapshot, DeltaFormat wire, string? snapback, CancellationToken ct)
    {
        var query = $"snapshot={Uri.EscapeDataString(snapshot)}&format={(wire == DeltaFormat.Lvmsync ? "lvmsync" : "vgmesh")}" + (snapback is null ? "" : $"&snapback={Uri.EscapeDataString(snapback)}") + "&relayed=true";
        await relay.RelayAsync(http, dest, null, HttpMethod.Post, $"/v1/lvs/{Uri.EscapeDataString(dest)}/sync?{query}",
            $"{options.VolumeGroup}/{dest} is not active on any host: activate it where it should be written (vgmesh lv activate {dest} --host HOST).", [], ct).ConfigureAwait(false);
    }

    /// <summary>A peer's response body that also lets the response go when it is disposed.</summary>
    private sealed class ResponseStream(HttpResponseMessage response, Stream inner) : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
                response.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
