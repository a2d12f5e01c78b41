using System.Text.Json;
using Microsoft.AspNetCore.Http;
using VgMesh.Agent.Operations;
using VgMesh.Agent.Reconciling;
using VgMesh.Client;
using VgMesh.Coordination;
using VgMesh.Lvm;

namespace VgMesh.Agent.Api;

/// <summary>
/// What the API does on any host: validates input before anything is queued (bad input changes
/// nothing), submits the operation, waits for its result, then waits until every live host has
/// applied it (a resize is answered only once every holder's table has grown).
/// </summary>
public sealed class VolumeService(ClusterRuntime runtime, LvmDriver lvm, FencedSet fenced, AgentOptions options, TimeProvider time)
{
    private TimeSpan Propagation => TimeSpan.FromSeconds(options.PropagationTimeoutSeconds);

    public async Task<List<LvView>> ListAsync(CancellationToken ct)
    {
        var lvs = await lvm.ListLvsAsync(options.VolumeGroup, ct).ConfigureAwait(false);
        var node = runtime.Node;
        var claims = await StateReader.ClaimsAsync(node.Catalog, ct).ConfigureAwait(false);
        var statuses = await StateReader.StatusesAsync(node.Catalog, ct).ConfigureAwait(false);
        return lvs.Where(l => !l.IsHidden).Select(l => new LvView(
            l.Name, l.VgName, l.SizeBytes, l.Attributes.Raw, l.Origin, l.DataPercent, l.Tags,
            statuses.Where(s => s.Value.Active.Any(a => a.Name == l.Name)).Select(s => s.Key).Order(StringComparer.Ordinal).ToList(),
            claims.GetValueOrDefault(l.Name)?.Host, claims.GetValueOrDefault(l.Name)?.Mode)).ToList();
    }

    public async Task<LvView> ShowAsync(string name, CancellationToken ct)
    {
        LvmNames.ValidateLv(name);
        return (await ListAsync(ct).ConfigureAwait(false)).FirstOrDefault(l => l.Name == name)
            ?? throw new OperationFailedException("not-found", $"{options.VolumeGroup}/{name} does not exist; 'vgmesh lv list' shows what does.");
    }

    public Task<OperationView> CreateAsync(CreateLvBody body, CancellationToken ct)
    {
        LvmNames.ValidateLv(body.Name);
        foreach (var t in body.Tags ?? [])
        {
            LvmNames.ValidateTag(t);
        }

        var size = ParseSize(body.Size, allowRelative: false);
        return SubmitAsync(OperationKinds.Create, new LvOperation(body.Name, size.Bytes, 0, body.Tags), body.OperationId, null, ct);
    }

    public Task<OperationView> RemoveAsync(string name, string? operationId, CancellationToken ct)
    {
        LvmNames.ValidateLv(name);
        return SubmitAsync(OperationKinds.Remove, new LvOperation(name), operationId, null, ct);
    }

    public Task<OperationView> ResizeAsync(string name, ResizeLvBody body, bool grow, CancellationToken ct)
    {
        LvmNames.ValidateLv(name);
        var size = ParseSize(body.Size, allowRelative: true);
        if (size.IsRelative && (size.Sign > 0) != grow)
        {
            throw new OperationFailedException("invalid-size", $"'{body.Size}' {(grow ? "would shrink" : "would grow")} {name}; use {(grow ? "reduce" : "extend")}.");
        }

        return SubmitAsync(grow ? OperationKinds.Extend : OperationKinds.Reduce, new LvOperation(name, size.Bytes, size.Sign), body.OperationId, null, ct);
    }

    public async Task<OperationView> ActivateAsync(string name, ActivateLvBody body, CancellationToken ct)
    {
        LvmNames.ValidateLv(name);
        var host = body.Host ?? options.Host;
        var members = await runtime.Node.Members.ListAsync(ct).ConfigureAwait(false);
        if (members.All(m => m.Host != host))
        {
            throw new OperationFailedException("unknown-host", $"host '{host}' is not a live member of this cluster; 'vgmesh host list' shows the members.");
        }

        // Settled: active on the host, and (exclusive) nowhere else.
        return await SubmitAsync(OperationKinds.Activate, new LvOperation(name, Host: host, Exclusive: body.Exclusive, Wait: body.Wait), body.OperationId,
            async (n, c) => (await StateReader.StatusesAsync(n.Catalog, c).ConfigureAwait(false)) is var s &&
                s.TryGetValue(host, out var mine) && mine.Active.Any(a => a.Name == name && !a.Announced) &&
                (!body.Exclusive || !s.Any(o => o.Key != host && o.Value.Active.Any(a => a.Name == name))),
            ct, body.Wait ? TimeSpan.FromMinutes(10) : null).ConfigureAwait(false);
    }

    public Task<OperationView> DeactivateAsync(string name, DeactivateLvBody body, CancellationToken ct)
    {
        LvmNames.ValidateLv(name);
        return SubmitAsync(OperationKinds.Deactivate, new LvOperation(name, Host: body.Host), body.OperationId,
            async (n, c) => !(await StateReader.StatusesAsync(n.Catalog, c).ConfigureAwait(false))
                .Any(s => (body.Host is null || s.Key == body.Host) && s.Value.Active.Any(a => a.Name == name)), ct);
    }

    public Task<OperationView> RenameAsync(string name, RenameLvBody body, CancellationToken ct)
    {
        LvmNames.ValidateLv(name);
        LvmNames.ValidateLv(body.NewName);
        return SubmitAsync(OperationKinds.Rename, new LvOperation(name, NewName: body.NewName), body.OperationId, null, ct);
    }

    public Task<OperationView> SnapshotAsync(string origin, SnapshotLvBody body, CancellationToken ct)
    {
        LvmNames.ValidateLv(origin);
        LvmNames.ValidateLv(body.Name);
        var size = ParseSize(body.Size, allowRelative: false);
        long? chunk = body.ChunkSize is null ? null : ParseSize(body.ChunkSize, allowRelative: false).Bytes;
        if (chunk is { } c && (c < 4096 || c > 512 * 1024 || (c & (c - 1)) != 0))
        {
            throw new OperationFailedException("invalid-size", $"chunk size '{body.ChunkSize}' of snapshot {body.Name} must be a power of two from 4K to 512K.");
        }

        return SubmitAsync(OperationKinds.Snapshot, new LvOperation(origin, size.Bytes, NewName: body.Name, ChunkBytes: chunk), body.OperationId, null, ct);
    }

    public Task<OperationView> MergeAsync(string snapshot, MergeLvBody body, CancellationToken ct)
    {
        LvmNames.ValidateLv(snapshot);
        return SubmitAsync(OperationKinds.Merge, new LvOperation(snapshot), body.OperationId, null, ct);
    }

    /// <summary>
    /// Restores the real table of an LV this host fenced, once this host holds its claim again
    /// (and so a live session): an operator's decision, never automatic.
    /// </summary>
    public async Task<OperationView> UnfenceAsync(string name, CancellationToken ct)
    {
        LvmNames.ValidateLv(name);
        if (!fenced.Current.Contains(name))
        {
            throw new OperationFailedException("not-found", $"{options.VolumeGroup}/{name} is not fenced on {options.Host}; run unfence on the host that fenced it ('vgmesh host list' shows fenced LVs in its alerts).");
        }

        var claim = (await StateReader.ClaimsAsync(runtime.Node.Catalog, ct).ConfigureAwait(false)).GetValueOrDefault(name);
        if (claim?.Host != options.Host)
        {
            throw new OperationFailedException("in-use", $"{options.VolumeGroup}/{name} is claimed by {claim?.Host ?? "nobody"}, not {options.Host}; its fenced device here is released by the reconciler, or claim it here first (vgmesh lv activate {name} --host {options.Host}).");
        }

        await lvm.RefreshAsync(new LvRef(options.VolumeGroup, name), ct).ConfigureAwait(false);
        fenced.Remove(name);
        return new OperationView("local", "applied", $"{options.VolumeGroup}/{name} unfenced on {options.Host}: its real table is back", 0, 0, options.Host, [options.Host], []);
    }

    public async Task<ClusterStatusView> StatusAsync(CancellationToken ct)
    {
        var node = runtime.Node;
        var vg = await lvm.GetVgAsync(options.VolumeGroup, ct).ConfigureAwait(false);
        return new ClusterStatusView(options.Cluster, options.VolumeGroup, await node.Coordinator.LeaderAsync(ct).ConfigureAwait(false), vg.Seqno,
            await HostsAsync(ct).ConfigureAwait(false));
    }

    public async Task<List<HostView>> HostsAsync(CancellationToken ct)
    {
        var node = runtime.Node;
        var members = await node.Members.ListAsync(ct).ConfigureAwait(false);
        var progress = (await node.Events.ProgressAsync(ct).ConfigureAwait(false)).ToDictionary(p => p.Host, StringComparer.Ordinal);
        var statuses = await StateReader.StatusesAsync(node.Catalog, ct).ConfigureAwait(false);
        var leader = await node.Coordinator.LeaderAsync(ct).ConfigureAwait(false);
        var names = members.Select(m => m.Host).Union(progress.Keys).Order(StringComparer.Ordinal);
        return names.Select(h =>
        {
            var m = members.FirstOrDefault(x => x.Host == h);
            var p = progress.GetValueOrDefault(h);
            var s = statuses.GetValueOrDefault(h);
            return new HostView(h, m?.Addresses ?? [], m?.Version ?? "", m?.StartedAt ?? default, m is not null, h == leader,
                p?.AppliedRevision ?? 0, p?.LagEvents ?? 0, p?.LagTime.TotalSeconds ?? 0, s?.Active.Select(a => a.Name).ToList() ?? [],
                [.. s?.Alerts ?? [], .. (s?.Fenced ?? []).Select(f => $"fenced: {f}")]);
        }).ToList();
    }

    public async Task<HostView> ShowHostAsync(string host, CancellationToken ct) =>
        (await HostsAsync(ct).ConfigureAwait(false)).FirstOrDefault(h => h.Host == host)
            ?? throw new OperationFailedException("unknown-host", $"host '{host}' is not known to this cluster (no session and no progress record); 'vgmesh host list' shows the hosts.");

    /// <summary>
    /// Streams events as NDJSON. Without follow the stream ends once nothing new came for a second
    /// (the backlog is read first, so that is when it has caught up).
    /// </summary>
    public async Task EventsAsync(HttpContext http, long? after, bool follow, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(http);
        var node = runtime.Node;
        var from = after ?? (follow ? (await node.Events.ProgressAsync(ct).ConfigureAwait(false)).Select(p => p.AppliedRevision).DefaultIfEmpty(0).Max() : 0);
        http.Response.ContentType = "application/x-ndjson";
        await http.Response.StartAsync(ct).ConfigureAwait(false);
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(ct);
        if (!follow)
        {
            idle.CancelAfter(TimeSpan.FromSeconds(1));
        }

        try
        {
            await foreach (var batch in node.Events.SubscribeAsync(from, idle.Token).ConfigureAwait(false))
            {
                foreach (var e in batch.Events)
                {
                    var line = JsonSerializer.Serialize(new EventView(batch.Revision, e.Kind, e.Subject, e.VgSeqno, e.OperationId, e.Host, e.Time, e.Data), ApiJsonContext.Default.EventView);
                    await http.Response.WriteAsync(line + "\n", ct).ConfigureAwait(false);
                }

                await http.Response.Body.FlushAsync(ct).ConfigureAwait(false);
                if (!follow)
                {
                    idle.CancelAfter(TimeSpan.FromSeconds(1));
                }
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            // Caught up (no follow).
        }
    }

    private static SizeSpec ParseSize(string? text, bool allowRelative)
    {
        if (!SizeSpec.TryParse(text, out var size, out var error))
        {
            throw new OperationFailedException("invalid-size", error);
        }

        if (size.IsRelative && !allowRelative)
        {
            throw new OperationFailedException("invalid-size", $"size '{text}' must be absolute here (no + or -)");
        }

        return size;
    }

    private async Task<OperationView> SubmitAsync(string kind, LvOperation args, string? operationId, Func<IClusterNode, CancellationToken, Task<bool>>? settled, CancellationToken ct, TimeSpan? settleTime = null)
    {
        var node = runtime.Node;
        var id = operationId is null ? OperationIds.New() : OperationIds.Validate(operationId);
        await node.Operations.SubmitAsync(new OperationRequest(id, kind, JsonSerializer.Serialize(args, AgentJsonContext.Default.LvOperation), options.Host), ct).ConfigureAwait(false);
        var result = await node.Operations.WaitAsync(id, Propagation, ct).ConfigureAwait(false);
        if (result.Status != OperationStatus.Succeeded)
        {
            throw new OperationFailedException(result.Status == OperationStatus.Cancelled ? "no-coordinator" : result.Data ?? "failed", result.Message);
        }

        // Every live host applies the revision (its reconciler acts, then acknowledges). Their
        // acknowledgements come through a watch; members (a host that died is no longer waited
        // for) and the settled condition (a host's status, not an acknowledgement) are read again
        // on each one, and at least every recheck. Polling here cost every host's agent CPU for
        // the whole wait, on the coordinator's host too, where LVM runs.
        var deadline = time.GetUtcNow() + (settleTime ?? Propagation);
        using var watching = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var changes = node.Events.WatchAppliedAsync(watching.Token).GetAsyncEnumerator(watching.Token);
        Task<bool>? next = null;
        var ended = false;
        IReadOnlyDictionary<string, long> applied = new Dictionary<string, long>();
        try
        {
            while (true)
            {
                next ??= ended ? null : changes.MoveNextAsync().AsTask();
                var members = (await node.Members.ListAsync(ct).ConfigureAwait(false)).Select(m => m.Host).ToHashSet(StringComparer.Ordinal);
                var lagging = members.Where(h => applied.GetValueOrDefault(h) < result.Revision).Order(StringComparer.Ordinal).ToList();
                var done = lagging.Count == 0 && (settled is null || await settled(node, ct).ConfigureAwait(false));
                if (done || time.GetUtcNow() > deadline)
                {
                    return new OperationView(id, done ? "applied" : "lagging", result.Message, result.Revision, result.FencingToken, result.CompletedBy,
                        members.Except(lagging).Order(StringComparer.Ordinal).ToList(), lagging);
                }

                // Everyone has applied it but the settled condition waits on a status: look often.
                var recheck = lagging.Count == 0 ? TimeSpan.FromMilliseconds(50) : TimeSpan.FromMilliseconds(500);
                if (next is null)
                {
                    // The watch ended (it does only when stopped): read at each recheck instead.
                    await Task.Delay(recheck, time, ct).ConfigureAwait(false);
                    applied = await node.Events.AppliedAsync(ct).ConfigureAwait(false);
                }
                else if (await Task.WhenAny(next, Task.Delay(recheck, time, ct)).ConfigureAwait(false) == next)
                {
                    ended = !await next.ConfigureAwait(false);
                    applied = ended ? applied : changes.Current;
                    next = null;
                }
            }
        }
        finally
        {
            // The enumerator cannot be disposed while a move is pending: stop it, let it finish.
            await watching.CancelAsync().ConfigureAwait(false);
            if (next is not null)
            {
                try
                {
                    await next.ConfigureAwait(false);
                }
                catch (Exception e) when (e is OperationCanceledException or Coordination.Etcd.EtcdException or HttpRequestException)
                {
                    // Stopped, or broken anyway: nothing to wait for.
                }
            }

            await changes.DisposeAsync().ConfigureAwait(false);
        }
    }
}
