using System.Diagnostics;
using System.Diagnostics.Metrics;
using VgMesh.Cluster.Leases;
using VgMesh.Lvm.Reports;

namespace VgMesh.Agent.Telemetry;

/// <summary>
/// The agent's instruments (OpenTelemetry naming: dotted names, UCUM units; the Prometheus
/// exposition turns them into <c>vgmesh_..._seconds</c>, <c>_bytes</c>, <c>_total</c>). Gauges read
/// the last values the reconciler and the sampler observed, so a scrape never runs LVM.
/// Every series carries no host label: Prometheus adds <c>instance</c> and the scrape config a
/// <c>host</c> label per target.
/// </summary>
public sealed class AgentMetrics : IDisposable
{
    public const string MeterName = "VgMesh.Agent";

    /// <summary>Seconds: LVM commands in a user-mode lab take 0.1-3 s, on real hosts 10-500 ms.</summary>
    public static readonly double[] DurationBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

    private readonly Meter _meter = new(MeterName, typeof(AgentMetrics).Assembly.GetName().Version?.ToString());
    private readonly Counter<long> _operations;
    private readonly Histogram<double> _operationDuration;
    private readonly Histogram<double> _lvmDuration;
    private readonly Histogram<double> _queueWait;
    private readonly Counter<long> _leadershipChanges;
    private readonly Counter<long> _driftFound;
    private readonly Counter<long> _driftRepaired;
    private readonly Counter<long> _passes;
    private readonly Counter<long> _snapshotGrown;
    private readonly Counter<long> _snapshotCollected;
    private readonly Histogram<double> _growReaction;
    private readonly Counter<long> _doubleActivations;
    private readonly Counter<long> _lockRefusals;
    private volatile HashSet<string> _doubleActive = [];
    private int _storageRegistered = -1; // -1: storage fencing off (no series)
    private (int Active, int Failed)? _storagePaths;
    private volatile VgMesh.Client.LockdView? _lockd;
    private volatile IReadOnlyDictionary<string, int> _growBlocked = new Dictionary<string, int>();
    private volatile Observed _observed = new();
    private bool _seenState;

    public AgentMetrics(FencedSet fenced)
    {
        ArgumentNullException.ThrowIfNull(fenced);
        _operations = _meter.CreateCounter<long>("vgmesh.operations", "{operation}", "Operations the coordinator on this host completed, by kind, result (succeeded or the error code) and submitting host.");
        _operationDuration = _meter.CreateHistogram<double>("vgmesh.operation.duration", "s", "Time the coordinator spent on an operation, from taking it off the queue to its result.");
        _lvmDuration = _meter.CreateHistogram<double>("vgmesh.lvm.command.duration", "s", "Duration of each lvm or dmsetup process this agent ran, by tool, sub-command and result.");
        _queueWait = _meter.CreateHistogram<double>("vgmesh.queue.wait", "s", "Time an operation waited in the queue before the coordinator took it.");
        _leadershipChanges = _meter.CreateCounter<long>("vgmesh.leadership.changes", "{change}", "Leadership state changes of this agent, by the state entered.");
        _driftFound = _meter.CreateCounter<long>("vgmesh.reconcile.drift", "{change}", "Differences between desired and actual state found by the reconciler, by kind.");
        _driftRepaired = _meter.CreateCounter<long>("vgmesh.reconcile.repaired", "{change}", "Differences the reconciler repaired, by kind.");
        _passes = _meter.CreateCounter<long>("vgmesh.reconcile.passes", "{pass}", "Reconcile passes, by result (ok or failed).");
        _snapshotGrown = _meter.CreateCounter<long>("vgmesh.lls.snapshot.grown", "{growth}", "LLS snapshots this host grew before they filled, by owner (HOST/CONTAINER).");
        _snapshotCollected = _meter.CreateCounter<long>("vgmesh.lls.snapshot.collected", "{snapshot}", "LLS snapshots this host removed because their device was not open for the configured time, by owner.");
        _growReaction = _meter.CreateHistogram<double>("vgmesh.lls.snapshot.grow.reaction", "s", "From an LLS snapshot's usage seen over its threshold to its extend done where it is active (the coordinator's result).");
        _meter.CreateObservableGauge("vgmesh.lls.snapshot.grow.blocked", GrowBlocked, "{snapshot}", "LLS snapshots over their threshold that cannot grow (quota or VG space), by owner: they overflow unless space is made. The mail and the log name each one and why.");

        _doubleActivations = _meter.CreateCounter<long>("vgmesh.double.activations", "{activation}", "LVs this host found active here and on another host without a shared claim (counted once each time it starts): two hosts may write them at once. The alert, the log (event 3002) and 'vgmesh host show' name each one.");
        _meter.CreateObservableGauge("vgmesh.double.active.lvs", () => _doubleActive.Count, "{lv}", "LVs active on this host and on another without a shared claim, as the last reconcile pass found them.");
        _meter.CreateObservableGauge("vgmesh.storage.paths", StoragePathCounts, "{path}", "Paths of the LUN's multipath device (ReservationDevice) by state: active, or failed by the kernel; absent where storage fencing is off.");
        _meter.CreateObservableGauge("vgmesh.lockd.lockspace.started", () => _lockd is { } l ? [new Measurement<long>(l.State == "started" ? 1 : 0)] : Array.Empty<Measurement<long>>(), null, "1 while this host's lockspace of the lvmlockd VG is started (its LVM commands can take locks), 0 while not; absent where the VG has no lvmlockd.");
        _meter.CreateObservableGauge("vgmesh.lockd.host.id", () => _lockd is { HostId: { } id } ? [new Measurement<long>(id)] : Array.Empty<Measurement<long>>(), null, "The sanlock host id the cluster assigned this host (lvmlocal.conf); absent until it has one or where the VG has no lvmlockd.");
        _meter.CreateObservableGauge("vgmesh.lockd.renewal.age", () => _lockd is { RenewedSecondsAgo: { } ago } ? [new Measurement<double>(ago)] : Array.Empty<Measurement<double>>(), "s", "How long ago sanlock last renewed this host's lease in the lvmlockd lockspace, as the agent last read it (every 5 s): sanlock renews every 2 io timeouts and gives the leases up past 8. Absent where the VG has no lvmlockd or sanlock does not say.");
        _lockRefusals = _meter.CreateCounter<long>("vgmesh.lockd.refusals", "{request}", "Lock requests lvmlockd refused on this host, read from its log, by who ran the command (hand: not this agent; vgmesh: this agent, which then asks the LV's holder; unknown) and lock (lv, vg, gl). The log (event 3709) and 'vgmesh host show' name each one run by hand.");
        _meter.CreateObservableGauge("vgmesh.lockd.lv.locks", LockdLocks, "{lock}", "LV locks lvmlockd holds on this host, by mode (ex, sh), as the agent last read them; absent where the VG has no lvmlockd.");
        _meter.CreateObservableGauge("vgmesh.storage.registered", StorageRegistration, null, "1 while this host's key is registered on the LUN (storage fencing by SCSI-3 reservations), 0 while it is not (preempted, or not yet registered); absent where storage fencing is off.");

        // Series exist from the start, so rates and alerts over them have data before the first event.
        foreach (var result in new[] { "ok", "failed" })
        {
            _passes.Add(0, new KeyValuePair<string, object?>("result", result));
        }

        _doubleActivations.Add(0);

        foreach (var kind in new[] { "stale-device", "deactivate", "refresh", "activate" })
        {
            _driftFound.Add(0, new KeyValuePair<string, object?>("kind", kind));
            _driftRepaired.Add(0, new KeyValuePair<string, object?>("kind", kind));
        }

        _meter.CreateObservableGauge("vgmesh.queue.depth", () => _observed.QueueDepth, "{operation}", "Operations submitted and without a result yet (cluster-wide, as this agent reads the queue).");
        _meter.CreateObservableGauge("vgmesh.leadership.state", LeadershipStates, null, "1 for this agent's current leadership state, 0 for the others.");
        _meter.CreateObservableGauge("vgmesh.cluster.leaders", () => _observed.LeadersSeen, "{host}", "Coordinators this agent sees elected (0 means none: nothing can change).");
        _meter.CreateObservableGauge("vgmesh.session.renewal.delay", () => _observed.RenewalDelay, "s", "Time since this agent's session was last confirmed by a renewal; the session is lost at the TTL.");
        _meter.CreateObservableGauge("vgmesh.session.ttl", () => _observed.SessionTtl, "s", "This agent's session TTL.");
        _meter.CreateObservableGauge("vgmesh.coordinator.lease.state", LeaseStates, null, "1 for this agent's part in the coordinator lease (none, acquiring, held, lost), 0 for the others: the singleton runs here only while held.");
        _meter.CreateObservableGauge("vgmesh.coordinator.lease.remaining", () => _observed.LeaseRemaining, "s", "How long this agent's coordinator lease is held at least without another renewal (0 where it is not held); the coordinator stops at the safety margin.");
        _meter.CreateObservableGauge("vgmesh.coordinator.generation", () => _observed.Generation, "{generation}", "The coordinator lease's generation, the fencing token of every metadata write: this agent's own while it holds the lease, else the coordinator's as it last answered. It grows on every change of coordinator.");
        _meter.CreateObservableGauge("vgmesh.cluster.members", ClusterMembers, "{host}", "Agents in the cluster as this host's membership sees them, by status (up, joining, weaklyup, leaving, exiting, down, removed; unreachable whatever the status).");
        _meter.CreateObservableGauge("vgmesh.applied.lag", () => _observed.LagSeconds, "s", "How far behind the newest cluster event this host's applied revision is, in time.");
        _meter.CreateObservableGauge("vgmesh.applied.lag.changes", () => _observed.LagChanges, "{change}", "How many cluster events this host has not applied yet.");
        _meter.CreateObservableGauge("vgmesh.applied.revision", () => _observed.AppliedRevision, "{revision}", "The cluster revision this host has applied.");
        _meter.CreateObservableGauge("vgmesh.vg.seqno", () => _observed.VgSeqno, "{change}", "The volume group's metadata sequence number as this host last read it.");
        // Read from the fence file itself: a cut-off host fences while its reconcile passes fail.
        _meter.CreateObservableGauge("vgmesh.fenced.lvs", () => fenced.Current.Count, "{lv}", "LVs this host has fenced (error table loaded) and not yet unfenced.");
        _meter.CreateObservableGauge("vgmesh.vg.size", () => _observed.VgSize, "By", "Size of the shared volume group.");
        _meter.CreateObservableGauge("vgmesh.vg.free", () => _observed.VgFree, "By", "Free space in the shared volume group.");
        _meter.CreateObservableGauge("vgmesh.lv.count", () => _observed.LvCount, "{lv}", "Logical volumes in the shared volume group (hidden ones not counted).");
        _meter.CreateObservableGauge("vgmesh.lv.active", () => _observed.ActiveHere, "{lv}", "LVs of the shared volume group active on this host.");
        // ".ratio" in the name: OpenTelemetry's Prometheus exporter (1.20.1-beta.1) adds no suffix for
        // unit "1", and dashboards and rules read vgmesh_snapshot_usage_ratio since the first release.
        _meter.CreateObservableGauge("vgmesh.snapshot.usage.ratio", SnapshotUsage, "1", "Share of each snapshot's copy-on-write space in use, on the host where it is active (1 = full: the snapshot becomes invalid).");
        _meter.CreateObservableGauge("vgmesh.dm.open.devices", () => _observed.OpenDevices, "{device}", "Device-mapper devices of the shared volume group held open on this host.");
        _meter.CreateObservableGauge("vgmesh.reconcile.alerts", () => _observed.Alerts, "{alert}", "Alerts the last reconcile pass raised (in-use devices, blocked handoffs, fenced LVs).");
    }

    public void OperationDone(string kind, string result, string submittedBy, TimeSpan took, TimeSpan waited)
    {
        var tags = new TagList { { "kind", kind }, { "result", result }, { "host", submittedBy } };
        _operations.Add(1, tags);
        _operationDuration.Record(took.TotalSeconds, new TagList { { "kind", kind }, { "result", result } });
        _queueWait.Record(Math.Max(0, waited.TotalSeconds), new KeyValuePair<string, object?>("kind", kind));
    }

    public void SnapshotGrown(string owner, TimeSpan reaction)
    {
        _snapshotGrown.Add(1, new KeyValuePair<string, object?>("owner", owner));
        _growReaction.Record(reaction.TotalSeconds);
    }

    /// <summary>The LLS containers of this host: their series exist from the start (0), so rules over them have data.</summary>
    public void LlsOwners(IEnumerable<string> owners)
    {
        var zero = owners.ToDictionary(o => o, _ => 0, StringComparer.Ordinal);
        foreach (var owner in zero.Keys)
        {
            _snapshotGrown.Add(0, new KeyValuePair<string, object?>("owner", owner));
            _snapshotCollected.Add(0, new KeyValuePair<string, object?>("owner", owner));
        }

        _growBlocked = zero;
    }

    public void SnapshotCollected(string owner) => _snapshotCollected.Add(1, new KeyValuePair<string, object?>("owner", owner));

    /// <summary>How many snapshots of each owner cannot grow now.</summary>
    public void GrowBlockedNow(IEnumerable<string> blockedOwners)
    {
        var counts = _growBlocked.Keys.ToDictionary(o => o, _ => 0, StringComparer.Ordinal);
        foreach (var owner in blockedOwners)
        {
            counts[owner] = counts.GetValueOrDefault(owner) + 1;
        }

        _growBlocked = counts;
    }

    private IEnumerable<Measurement<int>> GrowBlocked() => _growBlocked.Select(b => new Measurement<int>(b.Value, new KeyValuePair<string, object?>("owner", b.Key)));

    public void LvmCommand(string tool, string verb, bool ok, TimeSpan took) =>
        _lvmDuration.Record(took.TotalSeconds, new TagList { { "tool", tool }, { "command", verb }, { "result", ok ? "ok" : "error" } });

    public void LeadershipChanged(LeadershipState state)
    {
        if (_observed.State == state && _seenState)
        {
            return;
        }

        _seenState = true;
        _leadershipChanges.Add(1, new KeyValuePair<string, object?>("state", state.ToString().ToLowerInvariant()));
        Update(o => o with { State = state });
    }

    public void Drift(string kind, bool repaired)
    {
        var tag = new KeyValuePair<string, object?>("kind", kind);
        _driftFound.Add(1, tag);
        if (repaired)
        {
            _driftRepaired.Add(1, tag);
        }
    }

    /// <summary>The LUN's paths here, as the sampler last read the multipath device's status.</summary>
    public void StoragePaths(int active, int failed) => _storagePaths = (active, failed);

    private IEnumerable<Measurement<long>> StoragePathCounts() =>
        _storagePaths is { } p ? [new(p.Active, new KeyValuePair<string, object?>("state", "active")), new(p.Failed, new KeyValuePair<string, object?>("state", "failed"))] : [];

    /// <summary>This host's part in the lvmlockd VG as last read (null: the VG has no lvmlockd).</summary>
    public void Lockd(VgMesh.Client.LockdView? view) => _lockd = view;

    /// <summary>A lock request lvmlockd refused; <paramref name="by"/> hand, vgmesh or unknown. Zero adds the series.</summary>
    public void LockRefused(string by, string lockKind, int count = 1) =>
        _lockRefusals.Add(count, new KeyValuePair<string, object?>("by", by), new KeyValuePair<string, object?>("lock", lockKind));

    private IEnumerable<Measurement<long>> LockdLocks() =>
        _lockd is { } l ? [new(l.Exclusive.Count, new KeyValuePair<string, object?>("mode", "ex")), new(l.Shared.Count, new KeyValuePair<string, object?>("mode", "sh"))] : [];

    /// <summary>Whether this host's key is registered on the LUN, as the registration keeper last read it.</summary>
    public void StorageRegistered(bool registered) => Volatile.Write(ref _storageRegistered, registered ? 1 : 0);

    private IEnumerable<Measurement<long>> StorageRegistration() =>
        Volatile.Read(ref _storageRegistered) is var v and >= 0 ? [new Measurement<long>(v)] : [];

    /// <summary>The LVs the last pass found active here and elsewhere without a shared claim; each new one counts once.</summary>
    public void DoubleActive(IReadOnlyCollection<string> lvs)
    {
        var now = lvs.ToHashSet(StringComparer.Ordinal);
        // One series, no LV label: a series born at 1 shows no increase in Prometheus. The log and
        // the host's report name the LVs.
        _doubleActivations.Add(now.Count(l => !_doubleActive.Contains(l)));

        _doubleActive = now;
    }

    public void Pass(bool ok, int alerts)
    {
        _passes.Add(1, new KeyValuePair<string, object?>("result", ok ? "ok" : "failed"));
        if (ok)
        {
            Update(o => o with { Alerts = alerts });
        }
    }

    /// <summary>What a reconcile pass read: the VG, its LVs and this host's devices.</summary>
    public void ObserveVolumeGroup(VolumeGroup vg, IReadOnlyList<LogicalVolume> lvs, int openDevices)
    {
        ArgumentNullException.ThrowIfNull(vg);
        ArgumentNullException.ThrowIfNull(lvs);
        var snapshots = lvs.Where(l => l.IsSnapshot && l.ActiveLocally && l.DataPercent is not null)
            .Select(l => (l.Name, l.Origin ?? "", l.DataPercent!.Value / 100.0)).ToList();
        Update(o => o with
        {
            VgSize = vg.SizeBytes, VgFree = vg.FreeBytes, VgSeqno = vg.Seqno, LvCount = lvs.Count(l => !l.IsHidden),
            ActiveHere = lvs.Count(l => !l.IsHidden && l.ActiveLocally), Snapshots = snapshots, OpenDevices = openDevices,
        });
    }

    /// <summary>What the sampler read from the cluster store.</summary>
    public void ObserveCluster(long queueDepth, int leadersSeen, HostProgress? own, TimeSpan renewalDelay, TimeSpan ttl) =>
        Update(o => o with
        {
            QueueDepth = queueDepth, LeadersSeen = leadersSeen, RenewalDelay = renewalDelay.TotalSeconds, SessionTtl = ttl.TotalSeconds,
            LagSeconds = own?.LagTime.TotalSeconds ?? o.LagSeconds, LagChanges = own?.LagEvents ?? o.LagChanges, AppliedRevision = own?.AppliedRevision ?? o.AppliedRevision,
        });

    /// <summary>What the coordinator answered: its lease generation.</summary>
    public void ObserveCoordinator(long generation) => Update(o => o with { Generation = generation });

    /// <summary>The cluster engine as this host sees it: its part in the coordinator lease, and the members by status.</summary>
    public void ObserveEngine(LeaseState lease, long? heldGeneration, TimeSpan leaseRemaining, IReadOnlyDictionary<string, int> membersByStatus) =>
        Update(o => o with
        {
            Lease = lease, LeaseRemaining = leaseRemaining.TotalSeconds, Generation = heldGeneration ?? o.Generation, Members = membersByStatus,
        });

    private readonly Lock _update = new();

    private void Update(Func<Observed, Observed> change)
    {
        lock (_update)
        {
            _observed = change(_observed);
        }
    }

    private IEnumerable<Measurement<int>> LeadershipStates()
    {
        var current = _observed.State;
        return Enum.GetValues<LeadershipState>().Select(s => new Measurement<int>(s == current ? 1 : 0, new KeyValuePair<string, object?>("state", s.ToString().ToLowerInvariant())));
    }

    private IEnumerable<Measurement<int>> LeaseStates()
    {
        var current = _observed.Lease;
        return Enum.GetValues<LeaseState>().Select(s => new Measurement<int>(s == current ? 1 : 0, new KeyValuePair<string, object?>("state", s.ToString().ToLowerInvariant())));
    }

    /// <summary>Every status has a series (0 when no member is in it), so a rule over "unreachable" has data from the start.</summary>
    private IEnumerable<Measurement<int>> ClusterMembers()
    {
        var members = _observed.Members;
        return MemberStatuses.Select(s => new Measurement<int>(members.GetValueOrDefault(s), new KeyValuePair<string, object?>("status", s)));
    }

    private static readonly string[] MemberStatuses = ["joining", "weaklyup", "up", "leaving", "exiting", "down", "removed", "unreachable"];

    private IEnumerable<Measurement<double>> SnapshotUsage() =>
        _observed.Snapshots.Select(s => new Measurement<double>(s.Used, new KeyValuePair<string, object?>("lv", s.Lv), new KeyValuePair<string, object?>("origin", s.Origin)));

    public void Dispose() => _meter.Dispose();

    private sealed record Observed
    {
        public LeadershipState State { get; init; } = LeadershipState.Follower;
        public long QueueDepth { get; init; }
        public int LeadersSeen { get; init; }
        public double RenewalDelay { get; init; }
        public double SessionTtl { get; init; }
        public double LagSeconds { get; init; }
        public long LagChanges { get; init; }
        public long AppliedRevision { get; init; }
        public long VgSeqno { get; init; }
        public long VgSize { get; init; }
        public long VgFree { get; init; }
        public int LvCount { get; init; }
        public int ActiveHere { get; init; }
        public IReadOnlyList<(string Lv, string Origin, double Used)> Snapshots { get; init; } = [];
        public int OpenDevices { get; init; }
        public int Alerts { get; init; }
        public LeaseState Lease { get; init; }
        public double LeaseRemaining { get; init; }
        public long Generation { get; init; }
        public IReadOnlyDictionary<string, int> Members { get; init; } = new Dictionary<string, int>();
    }
}

/// <summary>
/// This agent's part in coordination, as the leadership metrics show it: leader while it holds
/// the coordinator lease, fenced when it has had no answer from a coordinator past its fence
/// deadline, follower otherwise. The names stay those of the first engine, so dashboards and
/// rules keep working.
/// </summary>
public enum LeadershipState { Follower, Campaigning, Leader, Fenced }

/// <summary>How far a host has applied the event sequence, and how far behind the coordinator's last event it is.</summary>
public sealed record HostProgress(string Host, long AppliedRevision, DateTimeOffset AppliedAt, long LagEvents, TimeSpan LagTime);
