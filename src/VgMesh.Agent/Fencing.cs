using System.Text.Json;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using VgMesh.Lvm;
using VgMesh.Lvm.DeviceMapper;

namespace VgMesh.Agent;

/// <summary>The LVs this host has fenced, kept on local disk so a restart does not forget them.</summary>
public sealed class FencedSet(AgentOptions options)
{
    private readonly Lock _gate = new();
    private string FilePath => Path.Combine(options.StateDir, "fenced.json");

    public IReadOnlySet<string> Current
    {
        get
        {
            lock (_gate)
            {
                return File.Exists(FilePath) ? JsonSerializer.Deserialize(File.ReadAllText(FilePath), AgentJsonContext.Default.HashSetString)! : [];
            }
        }
    }

    public void Add(string lv) => Change(s => s.Add(lv));

    public void Remove(string lv) => Change(s => s.Remove(lv));

    private void Change(Action<HashSet<string>> change)
    {
        lock (_gate)
        {
            var set = new HashSet<string>(Current, StringComparer.Ordinal);
            change(set);
            File.WriteAllText(FilePath + ".tmp", JsonSerializer.Serialize(set, AgentJsonContext.Default.HashSetString));
            File.Move(FilePath + ".tmp", FilePath, overwrite: true);
        }
    }
}

/// <summary>
/// Self-fencing. A host that has had no answer from a coordinator for FenceAfter *and* does not
/// see a majority of the cluster's agents as reachable may be cut off, and the coordinator gives
/// its LVs to another host once the cluster has downed it and it has been silent for FenceAfter
/// plus the grace: so at that point, every LV it holds exclusively by claim gets an
/// <c>error</c> table, and nothing more from this host reaches the disk. The host counts from the
/// send of its last answered ping, which the coordinator received later, so the fence lands first
/// (docs/architecture.md has the inequality). A host on the majority side that merely lost the
/// coordinator (it failed over) keeps its LVs: nobody can give them away while it is an Up
/// member. A downed agent fences at once, before its ActorSystem stops.
/// </summary>
public sealed partial class FencingService(
    VgMesh.Cluster.Contact.ContactClock contact, MajorityWatch majority, ClaimCache claims, FencedSet fenced, DmSetup dm, SanlockLeases sanlock, AgentOptions options, TimeProvider time, ILogger<FencingService> logger) : BackgroundService
{
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(20);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var fenceAfter = TimeSpan.FromSeconds(options.FenceAfterSeconds);

        // Restarted while cut off: the clock counts from the last contact on disk (or from
        // this start), so LVs that stayed active across the restart are fenced in time. It
        // needs nothing of the cluster engine: it runs even while the ActorSystem cannot start.
        var trigger = new FenceTrigger(TimeSpan.Zero);
        while (!stoppingToken.IsCancellationRequested)
        {
            // In a majority, a host is not cut off: the coordinator is failing over, and no
            // coordinator moves an LV of an Up member.
            var left = majority.InMajority ? fenceAfter : fenceAfter - contact.SinceContact;
            if (trigger.ShouldFence(1, left))
            {
                await FenceAsync(left, stoppingToken).ConfigureAwait(false);
            }

            // Asleep until the deadline would come without another answer (an answer only moves
            // it later, and waking re-checks), at most a second: a poll every 100 ms costs a host
            // where every wake-up is expensive (UML).
            // Out of contact but in a majority (a coordinator failing over): look every 100 ms,
            // so losing the majority as well fences at once, not up to a second later.
            var wait = trigger.IsFenced(1) || (majority.InMajority && contact.SinceContact > fenceAfter) ? TimeSpan.FromMilliseconds(100) : left;
            await Task.Delay(wait < Tick ? Tick : wait > TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : wait, time, stoppingToken).ConfigureAwait(false);
        }
    }

    /// <summary>Fences everything held here now: this host was downed, and its claims will move.</summary>
    public Task FenceNowAsync(CancellationToken ct)
    {
        LogDowned(logger);
        return FenceAsync(TimeSpan.Zero, ct);
    }

    /// <summary>Fences everything held here now: the storage no longer takes this host's writes (its key was preempted), and its claims will move.</summary>
    public Task FenceAllAsync(CancellationToken ct) => FenceAsync(TimeSpan.Zero, ct);

    private async Task FenceAsync(TimeSpan left, CancellationToken ct)
    {
        // All at once: the time left is short, and each LV waits only for its own in-flight I/O.
        // Every one with a device here, fenced before or not: a record says what was wiped once,
        // not what the device holds now (a crash takes the error table with the device, and an
        // activation after it loads the real one), and wiping a wiped device again is harmless.
        var devices = dm.SysfsNames();
        var held = claims.HeldBy(options.Host).Union(ActiveHereReleased(devices ?? new HashSet<string>()))
            .Where(l => devices is null || devices.Contains(LvRef.DmNameOf(options.VolumeGroup, l))).ToList();
        LogFenceRound(logger, left.TotalMilliseconds, held.Count);
        await Task.WhenAll(held.Select(lv => FenceOneAsync(lv, left, ct))).ConfigureAwait(false);
    }

    /// <summary>
    /// LVs still active here whose claim no longer wants them here: released or given to another host while
    /// their deactivation here is still to come (the event not applied yet, or the pass that
    /// would deactivate failing for want of a coordinator). The others assume a silent host
    /// fenced all it had active, so these are fenced too (the torture run of 2026-12-06, seed
    /// 4242, saw tx4 released from node2 just before node2 was cut off, left live there for 30 s,
    /// and activated on node1 meanwhile). Snapshots go with their origin.
    /// </summary>
    private IEnumerable<string> ActiveHereReleased(IReadOnlySet<string> names)
    {
        var tops = names.Select(n => LvRef.LvOfDmName(options.VolumeGroup, n)).OfType<string>().ToList();
        // Only an origin has a -real layer: each look for snapshots walks sysfs again, and this
        // runs against the fence deadline.
        var snapshots = tops.Where(lv => names.Contains(LvRef.DmNameOf(options.VolumeGroup, lv) + "-real"))
            .SelectMany(lv => dm.SysfsSnapshotsOf(LvRef.DmNameOf(options.VolumeGroup, lv)) ?? [])
            .Select(n => LvRef.LvOfDmName(options.VolumeGroup, n)).ToHashSet(StringComparer.Ordinal);
        return tops.Where(lv => !snapshots.Contains(lv) && claims.ReleasedFrom(lv, options.Host));
    }

    private async Task FenceOneAsync(string lv, TimeSpan left, CancellationToken ct)
    {
        // Recorded first: an agent that dies mid-fence still knows after its restart.
        fenced.Add(lv);
#if FAULT_SKIP_FENCE
        // A deliberately broken build: the fence is recorded and logged, never loaded.
        LogFenced(logger, lv, left.TotalMilliseconds);
        await Task.CompletedTask.ConfigureAwait(false);
        return;
#else
        try
        {
            // Its snapshots first: a classic snapshot's device writes its own copy-on-write store
            // on the shared disk, and the host that takes the claim over activates them too
            // (the torture run of 2026-12-06 saw a partitioned host keep one live for 45 s
            // while two others activated it in turn). They are put back with the origin: an
            // unfence refreshes the origin's whole tree, and a deactivation removes it.
            var device = LvRef.DmNameOf(options.VolumeGroup, lv);
            foreach (var snapshot in dm.SysfsSnapshotsOf(device) ?? [])
            {
                await dm.WipeTableAsync(snapshot, ct).ConfigureAwait(false);
                LogFencedSnapshot(logger, snapshot, lv);
            }

            await dm.WipeTableAsync(device, ct).ConfigureAwait(false);
            LogFenced(logger, lv, left.TotalMilliseconds);
            await ReleaseLeaseAsync(lv, device, ct).ConfigureAwait(false);
        }
        catch (LvmNotFoundException)
        {
            fenced.Remove(lv); // not active here: nothing to fence
        }
        catch (LvmException e)
        {
            LogFenceFailed(logger, lv, e.Message);
        }
#endif
    }

    /// <summary>
    /// In an lvmlockd VG, the fenced LV's sanlock lease is given up, after its error table is in:
    /// nothing of this host reaches the LV any more, and the host the cluster gives it to can lock
    /// it (plain lvmlockd leaves it locked here for as long as the disk renews, which a partition
    /// of the network does not stop). The LV may still be open here (a VM), so not by
    /// deactivation: on lvmlockd's behalf, by sanlock. An unfence takes it back.
    /// </summary>
    private async Task ReleaseLeaseAsync(string lv, string device, CancellationToken ct)
    {
        if (!SanlockResource.InLockspace(dm.SysfsNames(), options.VolumeGroup) || dm.SysfsUuid(device) is not { Length: > 32 } uuid)
        {
            return; // not an lvmlockd VG (or not shown): nothing to give up
        }

        var lvUuid = SanlockLeases.DashedUuid(uuid[^32..]);
        var lease = (await sanlock.ResourcesAsync(ct).ConfigureAwait(false)).FirstOrDefault(r => r.Lockspace == $"lvm_{options.VolumeGroup}" && r.Name == lvUuid);
        if (lease is null)
        {
            return; // released before (a second round), or lvmlockd holds none
        }

        try
        {
            await sanlock.ReleaseAsync(lease, ct).ConfigureAwait(false);
            LogLeaseReleased(logger, lv, lease.Spec);
        }
        catch (LvmException e)
        {
            // The fence holds (its error table is in); only the lease stays, and the LV with it.
            LogLeaseKept(logger, lv, e.Message);
        }
    }

    [LoggerMessage(EventId = 3407, Level = LogLevel.Error, Message = "fenced {Lv}, but could not give up its sanlock lease ({Reason}): no other host can activate it until this host deactivates it or its lease expires")]
    private static partial void LogLeaseKept(ILogger logger, string lv, string reason);

    [LoggerMessage(EventId = 3406, Level = LogLevel.Warning, Message = "gave up the sanlock lease of fenced {Lv} ({Lease}): another host can lock it now; 'vgmesh lv unfence' takes it back")]
    private static partial void LogLeaseReleased(ILogger logger, string lv, string lease);

    [LoggerMessage(EventId = 3401, Level = LogLevel.Critical, Message = "no answer from the coordinator in time ({LeftMs:0} ms left): fenced {Lv} (error table loaded); run 'vgmesh lv unfence' once this host holds its claim again")]
    private static partial void LogFenced(ILogger logger, string lv, double leftMs);

    [LoggerMessage(EventId = 3405, Level = LogLevel.Critical, Message = "fenced {Device}, a snapshot of {Lv} (error table loaded)")]
    private static partial void LogFencedSnapshot(ILogger logger, string device, string lv);

    [LoggerMessage(EventId = 3404, Level = LogLevel.Warning, Message = "no answer from the coordinator ({LeftMs:0} ms left): fencing the {Count} LV(s) active here and held here by claim, or released but still active here")]
    private static partial void LogFenceRound(ILogger logger, double leftMs, int count);

    [LoggerMessage(EventId = 3403, Level = LogLevel.Critical, Message = "this host was downed by the cluster: fencing the LVs it holds by claim before its agent stops")]
    private static partial void LogDowned(ILogger logger);

    [LoggerMessage(EventId = 3402, Level = LogLevel.Critical, Message = "could not fence {Lv}: {Reason}")]
    private static partial void LogFenceFailed(ILogger logger, string lv, string reason);
}

/// <summary>
/// When to fence: once each time a session runs short of its margin. A session that renews in
/// time after all re-arms it: a later shortage fences what the host holds then (LVs claimed since
/// would otherwise stay unfenced). Before, one fence per session: a renewal late by more than the
/// margin under load could spend it on a moment when the host held nothing, the likely cause of a
/// lab run in which a host cut off later fenced nothing at all.
/// </summary>
public sealed class FenceTrigger(TimeSpan margin)
{
    private long _fencedSession = -1;

    public bool ShouldFence(long session, TimeSpan left)
    {
        if (left < margin)
        {
            if (session == _fencedSession)
            {
                return false;
            }

            _fencedSession = session;
            return true;
        }

        if (session == _fencedSession)
        {
            _fencedSession = -1; // renewed in time after all
        }

        return false;
    }

    /// <summary>Whether this session has been fenced and not renewed since.</summary>
    public bool IsFenced(long session) => session == _fencedSession;
}

/// <summary>
/// The claims as the last reconcile pass read them, kept on local disk too: fencing must not
/// depend on reaching the coordinator, not even right after a restart.
/// </summary>
public sealed class ClaimCache(AgentOptions options)
{
    private readonly Lock _gate = new();
    private IReadOnlyDictionary<string, ActivationClaim>? _claims;

    private string FilePath => Path.Combine(options.StateDir, "claims.json");

    public void Set(IReadOnlyDictionary<string, ActivationClaim> claims)
    {
        lock (_gate)
        {
            if (_claims is not null && _claims.Count == claims.Count && _claims.All(c => claims.TryGetValue(c.Key, out var v) && v == c.Value))
            {
                return;
            }

            _claims = claims;
            File.WriteAllText(FilePath + ".tmp", JsonSerializer.Serialize(claims.ToDictionary(), AgentJsonContext.Default.DictionaryStringActivationClaim));
            File.Move(FilePath + ".tmp", FilePath, overwrite: true);
        }
    }

    /// <summary>
    /// One claim read outside a pass, kept before the LV is activated: fencing must know every LV
    /// this host holds, also one a handoff activated without a pass.
    /// </summary>
    public void Record(string lv, ActivationClaim claim)
    {
        lock (_gate)
        {
            var now = _claims ?? (File.Exists(FilePath) ? JsonSerializer.Deserialize(File.ReadAllText(FilePath), AgentJsonContext.Default.DictionaryStringActivationClaim)! : new Dictionary<string, ActivationClaim>());
            if (now.TryGetValue(lv, out var had) && had == claim)
            {
                return;
            }

            Set(new Dictionary<string, ActivationClaim>(now, StringComparer.Ordinal) { [lv] = claim });
        }
    }

    public IEnumerable<string> HeldBy(string host) =>
        Read().Where(c => c.Value.Host == host && c.Value.Mode == ActivationClaim.Exclusive).Select(c => c.Key).ToList();

    /// <summary>
    /// Whether the last claims known here manage <paramref name="lv"/> and do not want it on
    /// <paramref name="host"/>: released, or claimed by another host. An LV with no claim at all
    /// is not vgmesh's (activated by hand, say): the audit reports it, fencing leaves it.
    /// </summary>
    public bool ReleasedFrom(string lv, string host) => Read().TryGetValue(lv, out var claim) && !claim.Holders.Contains(host);

    /// <summary>Whether the last claims known here give <paramref name="lv"/> to a host other than <paramref name="host"/> (a hint: the claims may have moved since).</summary>
    public bool HeldElsewhere(string lv, string host) => Read().TryGetValue(lv, out var claim) && claim.Holders.Any(h => h != host);

    private IReadOnlyDictionary<string, ActivationClaim> Read()
    {
        lock (_gate)
        {
            return _claims ??= File.Exists(FilePath)
                ? JsonSerializer.Deserialize(File.ReadAllText(FilePath), AgentJsonContext.Default.DictionaryStringActivationClaim)!
                : new Dictionary<string, ActivationClaim>();
        }
    }
}
