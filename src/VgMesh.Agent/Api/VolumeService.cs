using System.Text.Json;
using Microsoft.AspNetCore.Http;
using VgMesh.Agent.Operations;
using VgMesh.Agent.Reconciling;
using VgMesh.Client;
using VgMesh.Cluster;
using VgMesh.Cluster.Coordinator;
using VgMesh.Lvm;

namespace VgMesh.Agent.Api;

/// <summary>
/// What the API does on any host: validates input before anything is queued (bad input changes
/// nothing), submits the operation, waits for its result, then waits until every live host has
/// applied it (a resize is answered only once every holder's table has grown).
/// </summary>
public sealed class VolumeService(AgentCluster cluster, Lockd.LocalOperations local, VgMesh.Cluster.Events.IJournalReader journalEvents, LvmDriver lvm, FencedSet fenced, VgMesh.Lvm.DeviceMapper.DmSetup dm, SanlockLeases sanlock, AgentOptions options, TimeProvider time)
{
    private TimeSpan Propagation => TimeSpan.FromSeconds(options.PropagationTimeoutSeconds);

    public async Task<List<LvView>> ListAsync(CancellationToken ct)
    {
        var lvs = await lvm.ListLvsAsync(options.VolumeGroup, ct).ConfigureAwait(false);
        var view = await cluster.StatusAsync(ct).ConfigureAwait(false);
        var claims = StateReader.Claims(view);
        var statuses = StateReader.Statuses(view);
        return lvs.Where(l => !l.IsHidden).Select(l => new LvView(
            l.Name, l.VgName, l.SizeBytes, l.Attributes.Raw, l.Origin, l.DataPercent, l.Tags,
            statuses.Where(s => s.Value.Active.Any(a => a.Name == l.Name)).Select(s => s.Key).Order(StringComparer.Ordinal).ToList(),
            claims.GetValueOrDefault(l.Name)?.Host, claims.GetValueOrDefault(l.Name)?.Mode)).ToList();
    }

    public async Task<LvView> ShowAsync(string name, CancellationToken ct)
    {
        LvmNames.ValidateLv(name);
        return (await ListAsync(ct).ConfigureAwait(false)).FirstOrDefault(l => l.Name == name)
            ?? throw new LvNotFound($"{options.VolumeGroup}/{name}");
    }

    public Task<OperationView> CreateAsync(CreateLvBody body, Lls.LlsScope? scope, CancellationToken ct)
    {
        LvmNames.ValidateLv(body.Name);
        foreach (var t in body.Tags ?? [])
        {
            LvmNames.ValidateTag(t);
        }

        var size = ParseSize(body.Size, allowRelative: false);
        return SubmitAsync(OperationKinds.Create, Scoped(new LvOperation(body.Name, size.Bytes, 0, body.Tags), scope), body.OperationId, null, ct);
    }

    public Task<OperationView> RemoveAsync(string name, string? operationId, Lls.LlsScope? scope, CancellationToken ct)
    {
        LvmNames.ValidateLv(name);
        return SubmitAsync(OperationKinds.Remove, Scoped(new LvOperation(name), scope), operationId, null, ct);
    }

    public Task<OperationView> ResizeAsync(string name, ResizeLvBody body, bool grow, Lls.LlsScope? scope, CancellationToken ct) =>
        ResizeAsync(name, body, grow, scope, untilApplied: true, ct);

    /// <summary>
    /// A resize; with <paramref name="untilApplied"/> off it is answered at the coordinator's
    /// result instead of after every host's acknowledgement. For growing an LV active on one host
    /// only (an LLS snapshot): LVM reloaded that host's table in the command, so the growth is in
    /// effect at the result, and the other hosts have nothing to change.
    /// </summary>
    public Task<OperationView> ResizeAsync(string name, ResizeLvBody body, bool grow, Lls.LlsScope? scope, bool untilApplied, CancellationToken ct)
    {
        LvmNames.ValidateLv(name);
        var size = ParseSize(body.Size, allowRelative: true);
        if (size.IsRelative && (size.Sign > 0) != grow)
        {
            throw new InvalidSize($"'{body.Size}' {(grow ? "would shrink" : "would grow")} {name}; use {(grow ? "reduce" : "extend")}.");
        }

        return SubmitAsync(grow ? OperationKinds.Extend : OperationKinds.Reduce, Scoped(new LvOperation(name, size.Bytes, size.Sign), scope), body.OperationId, null, ct,
            untilApplied: untilApplied);
    }

    public async Task<OperationView> ActivateAsync(string name, ActivateLvBody body, Lls.LlsScope? scope, CancellationToken ct)
    {
        LvmNames.ValidateLv(name);
        var host = body.Host ?? options.Host;
        if (!cluster.IsLive(host))
        {
            throw new UnknownHost(host, $"host '{host}' is not a live member of this cluster; 'vgmesh host list' shows the members.");
        }

        // Settled: active on the host, and (exclusive) nowhere else.
        return await SubmitAsync(OperationKinds.Activate, Scoped(new LvOperation(name, Host: host, Exclusive: body.Exclusive, Wait: body.Wait), scope), body.OperationId,
            async c => StateReader.Statuses(await cluster.StatusAsync(c).ConfigureAwait(false)) is var s &&
                s.TryGetValue(host, out var mine) && mine.Active.Any(a => a.Name == name && !a.Announced) &&
                (!body.Exclusive || !s.Any(o => o.Key != host && o.Value.Active.Any(a => a.Name == name))),
            ct, body.Wait ? TimeSpan.FromMinutes(10) : null).ConfigureAwait(false);
    }

    public async Task<OperationView> DeactivateAsync(string name, DeactivateLvBody body, Lls.LlsScope? scope, CancellationToken ct)
    {
        LvmNames.ValidateLv(name);
        // A host that is down but known (it holds claims) may be named: its claim is released for it.
        if (body.Host is { } host && !(await HostsAsync(ct).ConfigureAwait(false)).Any(h => h.Host == host))
        {
            throw new UnknownHost(host, $"host '{host}' is not known to this cluster; 'vgmesh host list' shows the hosts. Without a host, {name} is deactivated everywhere.");
        }

        return await SubmitAsync(OperationKinds.Deactivate, Scoped(new LvOperation(name, Host: body.Host), scope), body.OperationId,
            async c => !StateReader.Statuses(await cluster.StatusAsync(c).ConfigureAwait(false))
                .Any(s => (body.Host is null || s.Key == body.Host) && s.Value.Active.Any(a => a.Name == name)), ct).ConfigureAwait(false);
    }

    public Task<OperationView> RenameAsync(string name, RenameLvBody body, CancellationToken ct)
    {
        LvmNames.ValidateLv(name);
        LvmNames.ValidateLv(body.NewName);
        return SubmitAsync(OperationKinds.Rename, new LvOperation(name, NewName: body.NewName), body.OperationId, null, ct);
    }

    public Task<OperationView> SnapshotAsync(string origin, SnapshotLvBody body, Lls.LlsScope? scope, IReadOnlyList<string>? tags, CancellationToken ct)
    {
        LvmNames.ValidateLv(origin);
        LvmNames.ValidateLv(body.Name);
        // No size: a thin snapshot of a thin origin (the operation refuses any other origin). A
        // container's snapshot always has one, since its quota counts it.
        if (body.Size is null && scope is not null)
        {
            throw new InvalidSize($"snapshot {body.Name} needs a size (its copy-on-write space counts against the container's quota).");
        }

        long? size = body.Size is null ? null : ParseSize(body.Size, allowRelative: false).Bytes;
        long? chunk = body.ChunkSize is null ? null : ParseSize(body.ChunkSize, allowRelative: false).Bytes;
        if (size is null && chunk is not null)
        {
            throw new InvalidSize($"snapshot {body.Name} has a chunk size but no size: a thin snapshot takes its pool's chunk size; give --size for a classic snapshot.");
        }

        if (chunk is { } c && (c < 4096 || c > 512 * 1024 || (c & (c - 1)) != 0))
        {
            throw new InvalidSize($"chunk size '{body.ChunkSize}' of snapshot {body.Name} must be a power of two from 4K to 512K.");
        }

        return SubmitAsync(OperationKinds.Snapshot, Scoped(new LvOperation(origin, size, Tags: tags, NewName: body.Name, ChunkBytes: chunk), scope), body.OperationId, null, ct);
    }

    public Task<OperationView> TagAsync(string name, TagLvBody body, Lls.LlsScope? scope, CancellationToken ct)
    {
        LvmNames.ValidateLv(name);
        ArgumentNullException.ThrowIfNull(body);
        var (add, remove) = (body.Add ?? [], body.Remove ?? []);
        foreach (var t in add.Concat(remove))
        {
            LvmNames.ValidateTag(t);
        }

        if (add.Count + remove.Count == 0)
        {
            throw new BadRequest($"tagging {name} needs a tag to add or remove (--add TAG, --remove TAG).");
        }

        return SubmitAsync(OperationKinds.Tag, Scoped(new LvOperation(name, Tags: add, Untags: remove), scope), body.OperationId, null, ct);
    }

    public Task<OperationView> MergeAsync(string snapshot, MergeLvBody body, CancellationToken ct)
    {
        LvmNames.ValidateLv(snapshot);
        return SubmitAsync(OperationKinds.Merge, new LvOperation(snapshot), body.OperationId, null, ct);
    }

    /// <summary>
    /// Restores the real table of an LV this host fenced, once this host holds its claim again
    /// (and so is back in the cluster): an operator's decision, never automatic.
    /// </summary>
    public async Task<OperationView> UnfenceAsync(string name, CancellationToken ct)
    {
        LvmNames.ValidateLv(name);
        if (!fenced.Current.Contains(name))
        {
            throw new LvNotFound($"{options.VolumeGroup}/{name}", $"{options.VolumeGroup}/{name} is not fenced on {options.Host}; run unfence on the host that fenced it ('vgmesh host list' shows fenced LVs in its alerts).");
        }

        var claim = StateReader.Claims(await cluster.StatusAsync(ct).ConfigureAwait(false)).GetValueOrDefault(name);
        if (claim?.Host != options.Host)
        {
            throw new LvInUse(claim?.Host is { } holder ? [holder] : [], $"{options.VolumeGroup}/{name} is claimed by {claim?.Host ?? "nobody"}, not {options.Host}; its fenced device here is released by the reconciler, or claim it here first (vgmesh lv activate {name} --host {options.Host}).");
        }

        var lv = new LvRef(options.VolumeGroup, name);
        await TakeLeaseBackAsync(lv, ct).ConfigureAwait(false);
        await lvm.RefreshAsync(lv, ct).ConfigureAwait(false);
        fenced.Remove(name);
        return new OperationView("local", "applied", $"{options.VolumeGroup}/{name} unfenced on {options.Host}: its real table is back", 0, 0, options.Host, [options.Host], []);
    }

    /// <summary>
    /// In an lvmlockd VG, the sanlock lease the fence gave up is taken again for lvmlockd before
    /// the real table is back: refused (nothing changed) while another host holds it.
    /// </summary>
    private async Task TakeLeaseBackAsync(LvRef lv, CancellationToken ct)
    {
        if (!SanlockResource.InLockspace(dm.SysfsNames(), lv.Vg))
        {
            return;
        }

        var pid = await sanlock.LvmlockdPidAsync(ct).ConfigureAwait(false)
            ?? throw new VgMesh.Agent.Operations.OperationRefused("lockd-down", $"{lv.FullName} is in an lvmlockd VG but lvmlockd is not registered with sanlock on {options.Host}; start lvmlockd, then unfence again.");
        var lease = await lvm.LvLeaseAsync(lv, pid, ct).ConfigureAwait(false);
        if ((await sanlock.ResourcesAsync(ct).ConfigureAwait(false)).Any(r => r.Name == lease.Name && r.Lockspace == lease.Lockspace))
        {
            return; // never given up (fenced before lvmlockd mode, or by an older agent)
        }

        try
        {
            await sanlock.AcquireAsync(lease, ct).ConfigureAwait(false);
        }
        catch (LvmException e)
        {
            throw new LvInUse([], $"{lv.FullName}'s sanlock lease, given up when it was fenced, cannot be taken back on {options.Host} ({e.Message}): another host may hold it. Its fenced device here stays; deactivate it here (vgmesh lv deactivate {lv.Lv} --host {options.Host}) once nothing holds it open.");
        }
    }

    public async Task<ClusterStatusView> StatusAsync(CancellationToken ct)
    {
        var vg = await lvm.GetVgAsync(options.VolumeGroup, ct).ConfigureAwait(false);
        var view = await cluster.StatusAsync(ct).ConfigureAwait(false);
        return new ClusterStatusView(options.Cluster, options.VolumeGroup, view.Host, vg.Seqno, Hosts(view))
        {
            CoordinatorGeneration = view.Generation,
            CoordinatorLeaseSeconds = view.LeaseTimeLeft.TotalSeconds,
            PendingOperations = view.Pending,
            LastEvent = view.LastEventSequence,
        };
    }

    public async Task<List<HostView>> HostsAsync(CancellationToken ct) => Hosts(await cluster.StatusAsync(ct).ConfigureAwait(false));

    /// <summary>Every host the membership or the coordinator knows: its member state, what it applied and how far behind it is, what it reports.</summary>
    private List<HostView> Hosts(CoordinatorStatus view)
    {
        var members = cluster.Members().ToDictionary(m => m.Host, StringComparer.Ordinal);
        var applied = view.Applied.ToDictionary(a => a.Host, StringComparer.Ordinal);
        var statuses = StateReader.Statuses(view);
        var now = time.GetUtcNow();
        var names = members.Keys.Union(applied.Keys).Order(StringComparer.Ordinal);
        return names.Select(h =>
        {
            var m = members.GetValueOrDefault(h);
            var a = applied.GetValueOrDefault(h);
            var s = statuses.GetValueOrDefault(h);
            var lagEvents = Math.Max(0, view.LastEventSequence - (a?.Sequence ?? 0));
            var lagSeconds = lagEvents == 0 || a is null ? 0 : Math.Max(0, (now - a.At).TotalSeconds);
            return new HostView(h, m is null ? [] : [m.Address, .. s?.ApiAddress is { } api ? new[] { api } : []], "", default, m is { Live: true }, h == view.Host,
                a?.Sequence ?? 0, lagEvents, lagSeconds, s?.Active.Select(x => x.Name).ToList() ?? [],
                [.. s?.Alerts ?? [], .. (s?.Fenced ?? []).Select(f => $"fenced: {f}")])
            {
                MemberStatus = m is null ? "removed" : m.Reachable ? m.Status.ToString().ToLowerInvariant() : "unreachable",
                Storage = s?.Storage,
                Lockd = s?.Lockd,
            };
        }).ToList();
    }

    public async Task<HostView> ShowHostAsync(string host, CancellationToken ct) =>
        (await HostsAsync(ct).ConfigureAwait(false)).FirstOrDefault(h => h.Host == host)
            ?? throw new UnknownHost(host, $"host '{host}' is not known to this cluster (not a member and no progress record); 'vgmesh host list' shows the hosts.");

    /// <summary>
    /// Streams events as NDJSON from the coordinator's journal. Without follow the stream ends
    /// once it has caught up; with follow it reads the journal again every half second.
    /// </summary>
    public async Task EventsAsync(HttpContext http, long? after, bool follow, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(http);
        var from = after ?? (follow ? (await cluster.StatusAsync(ct).ConfigureAwait(false)).LastEventSequence : 0);
        http.Response.ContentType = "application/x-ndjson";
        await http.Response.StartAsync(ct).ConfigureAwait(false);
        var journalFrom = 0L;
        do
        {
            foreach (var batch in await journalEvents.ReadAfterAsync(journalFrom, ct).ConfigureAwait(false))
            {
                journalFrom = batch.JournalSequenceNr;
                foreach (var e in batch.Events.Where(e => e.Sequence > from))
                {
                    var line = JsonSerializer.Serialize(new EventView(e.Sequence, e.Event.Kind, e.Event.Subject, e.Event.VgSeqno, e.Event.OperationId, e.Event.Host, e.Event.Time, e.Event.Data), ApiJsonContext.Default.EventView);
                    await http.Response.WriteAsync(line + "\n", ct).ConfigureAwait(false);
                    from = e.Sequence;
                }
            }

            await http.Response.Body.FlushAsync(ct).ConfigureAwait(false);
            if (follow)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(500), time, ct).ConfigureAwait(false);
            }
        }
        while (follow && !ct.IsCancellationRequested);
    }

    /// <summary>
    /// Sets limits of a container's quota for the whole cluster (the VG's tags, through the
    /// coordinator). Every value is checked here first: a bad one changes nothing.
    /// </summary>
    public async Task<OperationView> SetQuotaAsync(string host, string container, LlsQuotaBody body, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(body);
        if (!Lls.LlsNames.IsContainerName(host) || !Lls.LlsNames.IsContainerName(container))
        {
            throw new BadRequest($"'{host}/{container}' is not a container: give HOST/CONTAINER as 'vgmesh lls quota' lists them.");
        }

        // The host must be one of the cluster's (a mistyped one would be a quota nobody has);
        // its containers are its own configuration, so one not started yet can be given limits.
        if (!(await HostsAsync(ct).ConfigureAwait(false)).Any(h => h.Host == host))
        {
            throw new UnknownHost(host, $"host '{host}' is not known to this cluster; 'vgmesh host list' shows the hosts.");
        }

        var changes = new List<string>();
        foreach (var (limit, text, bytes) in new[] { ("bytes", body.MaxBytes, true), ("volumes", body.MaxVolumes, false), ("snapshots", body.MaxSnapshots, false), ("snapshot-bytes", body.MaxSnapshotBytes, true) })
        {
            if (text is null)
            {
                continue;
            }

            changes.Add(text is Lls.LlsQuotaTags.None or Lls.LlsQuotaTags.Inherit ? $"{limit}={text}"
                : bytes ? $"{limit}={ParseSize(text, allowRelative: false).Bytes}"
                : int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) ? $"{limit}={n}"
                : throw new BadRequest($"'{text}' is not a count of {limit} for {host}/{container}: give a number, 'none' or 'inherit'."));
        }

        if (changes.Count == 0)
        {
            throw new BadRequest($"nothing to set for {host}/{container}: give --max-bytes, --max-volumes, --max-snapshots or --max-snapshot-bytes.");
        }

        var owner = Lls.LlsNames.Owner(host, container);
        return await SubmitAsync(OperationKinds.LlsQuota, new LvOperation(Lls.LlsNames.Prefix(host, container).TrimEnd('.'), Owner: owner, QuotaChanges: changes), body.OperationId, null, ct).ConfigureAwait(false);
    }

    /// <summary>Every owner of LLS volumes in the VG, every quota set, and this host's containers: their limits and use.</summary>
    public async Task<List<LlsQuotaView>> QuotasAsync(CancellationToken ct)
    {
        var (lvs, vg) = await lvm.ListLvsWithVgAsync(options.VolumeGroup, ct).ConfigureAwait(false);
        var set = Lls.LlsQuotaTags.All(vg.Tags);
        var owned = lvs.Select(l => (Lv: l, Owner: Lls.LlsNames.OwnerOf(l.Tags))).Where(x => x.Owner is not null).ToLookup(x => x.Owner!, x => x.Lv, StringComparer.Ordinal);
        var owners = owned.Select(g => g.Key).Concat(set.Keys).Concat(options.Lls.Containers.Select(c => Lls.LlsNames.Owner(options.Host, c.Name))).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal);
        return owners.Select(o =>
        {
            var mine = set.GetValueOrDefault(o) ?? [];
            var here = o.Split('/') is [var h, var c] && h == options.Host ? options.Lls.Find(c) : null;
            var configured = here is null ? null : options.Lls.QuotaOf(here);
            var effective = configured is not null ? Lls.LlsQuotaTags.Apply(configured, mine)
                : Lls.LlsQuotaTags.Limits.All(mine.ContainsKey) ? Lls.LlsQuotaTags.Apply(new Lls.LlsQuota(), mine) : null;
            var used = owned[o].ToList();
            return new LlsQuotaView(o, mine.ToDictionary(kv => kv.Key, kv => kv.Value?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? Lls.LlsQuotaTags.None, StringComparer.Ordinal),
                Limits(configured), Limits(effective), used.Sum(l => l.SizeBytes), used.Count, used.Count(l => l.IsSnapshot));
        }).ToList();

        static LlsLimits? Limits(Lls.LlsQuota? q) => q is null ? null : new(q.MaxBytes, q.MaxVolumes, q.MaxSnapshots, q.MaxSnapshotBytes);
    }

    /// <summary>A container's request carries its owner and quota to the coordinator, which checks both when it runs it.</summary>
    private static LvOperation Scoped(LvOperation args, Lls.LlsScope? scope) => scope is null ? args : args with { Owner = scope.Owner, Quota = scope.Quota, Why = scope.Why };

    internal static SizeSpec ParseSize(string? text, bool allowRelative)
    {
        if (!SizeSpec.TryParse(text, out var size, out var error))
        {
            throw new InvalidSize(error);
        }

        if (size.IsRelative && !allowRelative)
        {
            throw new InvalidSize($"size '{text}' must be absolute here (no + or -)");
        }

        return size;
    }

    private async Task<OperationView> SubmitAsync(string kind, LvOperation args, string? operationId, Func<CancellationToken, Task<bool>>? settled, CancellationToken ct, TimeSpan? settleTime = null, bool untilApplied = true)
    {
        var id = operationId is null ? OperationIds.New() : OperationIds.Validate(operationId);
#if FAULT_EARLY_ACK
        // A deliberately broken build: an extend is acknowledged before (and without) running.
        if (kind == OperationKinds.Extend)
        {
            return new OperationView(id, "applied", $"extended {args.Lv} (acknowledged before it ran)", 0, 0, options.Host, [options.Host], []);
        }
#endif
        var request = new OperationRequest(id, kind, JsonSerializer.Serialize(args, AgentJsonContext.Default.LvOperation), options.Host);
        // lvmlockd mode: run here under LVM's locks when it can. A container's request stays in
        // the queue (its quota is checked against the VG one request at a time), and so does one
        // that names its id: a retry repeats the id, and only the queue runs an id once (a
        // relative extend run here twice would grow the LV twice).
        // A resubmission of one that ran here and whose record was not answered sends the record.
        var answer = (args.Owner is null && operationId is null && local.Takes(kind) ? await local.RunAsync(request, Propagation, ct).ConfigureAwait(false) : null)
            ?? (operationId is null ? null : await local.ResendAsync(request, Propagation, ct).ConfigureAwait(false))
            ?? await cluster.SubmitAsync(request, Propagation, ct).ConfigureAwait(false);
        var result = answer switch
        {
            SubmitAnswer.Finished f => f.Result,
            SubmitAnswer.Refused r => throw new BadRequest(r.Reason),
            SubmitAnswer.OutcomeUnknown u => throw NoCoordinator.OutcomeUnknown(u.OperationId, u.Waited),
            _ => throw new InvalidOperationException("unknown answer"),
        };
        if (result.Status != OperationStatus.Succeeded)
        {
            throw VolumeException.FromCode(result.Data ?? "failed", result.Message);
        }

        if (!untilApplied)
        {
            return new OperationView(id, "done", result.Message, result.LastEventSequence, result.Generation, result.CompletedBy, [], []);
        }

        // Every live host applies the change (its reconciler acts, and its follower acknowledges):
        // the coordinator answers the wait when they all have, and the members are read again
        // each round (a host that died is no longer waited for). The settled condition (a
        // host's report, not an acknowledgement) is checked after that.
        var deadline = time.GetUtcNow() + (settleTime ?? Propagation);
        while (true)
        {
            var members = cluster.LiveHosts().ToHashSet(StringComparer.Ordinal);
            var view = await cluster.WaitAppliedAsync(result.LastEventSequence, members, TimeSpan.FromMilliseconds(500), ct).ConfigureAwait(false);
            var applied = view?.Applied.ToDictionary(a => a.Host, a => a.Sequence, StringComparer.Ordinal) ?? [];
            var lagging = view is null ? members.Order(StringComparer.Ordinal).ToList() : members.Where(h => applied.GetValueOrDefault(h) < result.LastEventSequence).Order(StringComparer.Ordinal).ToList();
            var done = lagging.Count == 0 && (settled is null || await settled(ct).ConfigureAwait(false));
            if (done || time.GetUtcNow() > deadline)
            {
                return new OperationView(id, done ? "applied" : "lagging", result.Message, result.LastEventSequence, result.Generation, result.CompletedBy,
                    members.Except(lagging).Order(StringComparer.Ordinal).ToList(), lagging);
            }

            if (lagging.Count == 0)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(50), time, ct).ConfigureAwait(false); // everyone applied it; the settled condition waits on a report
            }
        }
    }
}
