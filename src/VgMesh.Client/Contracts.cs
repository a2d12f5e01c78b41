using System.Text.Json;
using System.Text.Json.Serialization;

namespace VgMesh.Client;

// The HTTP API's bodies, shared by the agent (which serves them) and this client.

/// <summary>A logical volume as the cluster sees it: metadata plus where it is active.</summary>
public sealed record LvView(
    string Name,
    string Vg,
    long SizeBytes,
    string Attr,
    string? Origin,
    double? DataPercent,
    IReadOnlyList<string> Tags,
    IReadOnlyList<string> ActiveOn,
    string? ClaimedBy,
    string? ClaimMode);

/// <summary>
/// How far a clone (a snapshot of a template) has diverged: its copy-on-write size, what of it
/// is allocated and the share, as the kernel where it is active reports it (null while inactive:
/// the kernel keeps the count only while the snapshot is mapped).
/// </summary>
public sealed record CloneUsageView(string Name, string Template, long CowBytes, long? AllocatedBytes, double? Percent, string? ActiveOn);

public sealed record CreateLvBody(string Name, string Size, IReadOnlyList<string>? Tags = null, string? OperationId = null);

/// <summary><see cref="Size"/> is LVM's form: <c>12G</c> (absolute) or <c>+2G</c> / <c>-1G</c> (relative).</summary>
public sealed record ResizeLvBody(string Size, string? OperationId = null);

public sealed record ActivateLvBody(string? Host, bool Exclusive = true, bool Wait = false, string? OperationId = null);

/// <summary>Without <see cref="Host"/>: inactive everywhere. With it: that host leaves a shared claim.</summary>
public sealed record DeactivateLvBody(string? Host, string? OperationId = null);

public sealed record RenameLvBody(string NewName, string? OperationId = null);

/// <summary>A classic (COW) snapshot <see cref="Name"/> of the LV in the path; <see cref="ChunkSize"/> like 64K.</summary>
/// <param name="Size">Copy-on-write space of a classic snapshot; null for a thin snapshot of a thin origin (its pool's space).</param>
public sealed record SnapshotLvBody(string Name, string? Size, string? ChunkSize = null, string? OperationId = null);

public sealed record MergeLvBody(string? OperationId = null);

public sealed record TagLvBody(IReadOnlyList<string>? Add, IReadOnlyList<string>? Remove, string? OperationId = null);

/// <summary>A container's flags for one volume; null leaves a flag as it is.</summary>
public sealed record LlsFlagsBody(bool? Hidden = null, bool? ReadOnly = null, bool? NoMount = null);

/// <summary>One cluster event, as <c>GET /v1/events</c> streams them (one JSON object per line).</summary>
public sealed record EventView(long Revision, string Kind, string Subject, long? VgSeqno, string? OperationId, string Host, DateTimeOffset Time, string? Data);

/// <summary>The answer to a change: the operation, its revision, and which hosts have applied it.</summary>
public sealed record OperationView(
    string Id,
    string Status,
    string Message,
    long Revision,
    long FencingToken,
    string? CompletedBy,
    IReadOnlyList<string> AppliedBy,
    IReadOnlyList<string> Lagging);

public sealed record HostView(
    string Host,
    IReadOnlyList<string> Addresses,
    string Version,
    DateTimeOffset StartedAt,
    bool Alive,
    bool Leader,
    long AppliedRevision,
    long LagEvents,
    double LagSeconds,
    IReadOnlyList<string> ActiveLvs,
    IReadOnlyList<string> Alerts)
{
    /// <summary>The host's cluster membership: up, joining, leaving, exiting, down, unreachable, or removed.</summary>
    public string? MemberStatus { get; init; }

    /// <summary>The shared LUN as this host last saw it (its paths and its registration); null where storage fencing is off.</summary>
    public StorageView? Storage { get; init; }

    /// <summary>lvmlockd on this host, where the VG uses LVM's own locks (sanlock or dlm); null otherwise.</summary>
    public LockdView? Lockd { get; init; }
}

/// <summary>A host's part in an lvmlockd VG, as its agent last read it (<c>lvmlockctl --info</c>).</summary>
/// <param name="LockType">sanlock or dlm.</param>
/// <param name="HostId">The host id the cluster assigned (written to lvmlocal.conf); null until it has one.</param>
/// <param name="State">assigning (asking the cluster for a host id), refused (the id is not this host's: <paramref name="Error"/> says why), starting, started, or failed (<paramref name="Error"/>).</param>
/// <param name="Lockspace">The lockspace's name while it is started here.</param>
/// <param name="Exclusive">LVs whose lock this host holds exclusively.</param>
/// <param name="Shared">LVs whose lock this host holds shared.</param>
/// <param name="RenewedSecondsAgo">How long ago sanlock last renewed this host's lease in the lockspace (<c>sanlock client status -D</c>); null while not known. Past sanlock's limit (8 io timeouts) its leases are lost.</param>
/// <param name="RenewalResult">The last renewal's result: 1 is success, a negative value sanlock's error (-202: an i/o timeout).</param>
/// <param name="Refused">The last lock requests lvmlockd refused here to commands vgmesh did not run (by hand, a script), newest last: nothing of those commands was done.</param>
public sealed record LockdView(string LockType, int? HostId, string State, string? Lockspace, IReadOnlyList<string> Exclusive, IReadOnlyList<string> Shared, string? Error, DateTimeOffset? At,
    double? RenewedSecondsAgo = null, int? RenewalResult = null, IReadOnlyList<LockRefusalView>? Refused = null);

/// <summary>A lock request lvmlockd refused to an LVM command on this host.</summary>
/// <param name="Command">The command's name and process id, <c>lvextend[812]</c>.</param>
/// <param name="Lock">lv, vg or gl (the global lock).</param>
/// <param name="Lv">The LV, for an LV lock.</param>
/// <param name="Mode">The mode asked for (ex, sh).</param>
/// <param name="Reason">Why lvmlockd refused: "held by another host", "the lockspace is not started on this host"...</param>
/// <param name="By">hand (not run by this agent), or unknown (the agent runs LVM behind a prefix and cannot tell).</param>
public sealed record LockRefusalView(DateTimeOffset At, string Command, string Lock, string? Lv, string Mode, string Reason, string By);

/// <summary>A host's view of the shared LUN where storage fencing (SCSI-3 persistent reservations) is on.</summary>
/// <param name="Device">The multipath device the reservations are made through.</param>
/// <param name="Key">This host's reservation key.</param>
/// <param name="Registration">registered; preempted (fenced by the storage, waiting for a coordinator before registering again); unregistered; or unreadable (the last read failed).</param>
/// <param name="Holder">The key that holds the reservation, or null when none does.</param>
/// <param name="ReservationType">The reservation's type as sg_persist names it.</param>
/// <param name="Paths">The multipath device's paths, as its kernel table says.</param>
/// <param name="At">When the registration was last read.</param>
public sealed record StorageView(string Device, string Key, string Registration, string? Holder, string? ReservationType, IReadOnlyList<PathView> Paths, DateTimeOffset? At);

/// <param name="State">active, or failed (the kernel failed the path; I/O goes over the others).</param>
/// <param name="FailCount">How often the kernel failed this path since the map was made.</param>
public sealed record PathView(string Device, string State, int FailCount);

public sealed record ClusterStatusView(
    string Cluster,
    string VolumeGroup,
    string? Leader,
    long VgSeqno,
    IReadOnlyList<HostView> Hosts)
{
    /// <summary>The coordinator's lease generation: the fencing token of every write it makes now.</summary>
    public long CoordinatorGeneration { get; init; }

    /// <summary>How long the coordinator's lease lives at least without another renewal.</summary>
    public double CoordinatorLeaseSeconds { get; init; }

    public int PendingOperations { get; init; }

    /// <summary>The sequence number of the last event the coordinator committed.</summary>
    public long LastEvent { get; init; }
}

/// <summary>
/// One of a container's LLS volumes as the container sees it: its own name, and the node in
/// its <c>/dev/lls</c> (null while it has none: hidden, not mountable, or not active here).
/// </summary>
/// <param name="Flags">Any of <c>hidden</c>, <c>read-only</c>, <c>no-mount</c>.</param>
public sealed record LlsVolumeView(string Name, long SizeBytes, string? Origin, bool Snapshot, double? DataPercent, bool Active, string? Device, IReadOnlyList<string> Flags)
{
    /// <summary>A snapshot not open since a while: when it is collected unless it is opened first (null: open now, kept, or never).</summary>
    public DateTimeOffset? CollectableAt { get; init; }
}

public sealed record LlsCreateBody(string Name, string Size);

/// <summary>Without <see cref="Size"/>: a quarter of the origin's size.</summary>
public sealed record LlsSnapshotBody(string Name, string? Size = null);

public sealed record LlsResizeBody(string Size);

/// <summary>
/// Changes to a container's quota (operators: <c>vgmesh lls quota set</c>): each limit a size
/// (bytes) or count, <c>none</c> (no limit) or <c>inherit</c> (the container's host's
/// configuration again); a limit left null is not changed.
/// </summary>
public sealed record LlsQuotaBody(string? MaxBytes = null, string? MaxVolumes = null, string? MaxSnapshots = null, string? MaxSnapshotBytes = null, string? OperationId = null);

/// <summary>A container's limits; null: no limit.</summary>
public sealed record LlsLimits(long? MaxBytes, int? MaxVolumes, int? MaxSnapshots, long? MaxSnapshotBytes);

/// <summary>A container's quota and what it uses, as the answering host knows them.</summary>
/// <param name="Owner"><c>HOST/CONTAINER</c>.</param>
/// <param name="Set">The limits set for the whole cluster (in the VG's tags): limit name to a number or <c>none</c>.</param>
/// <param name="Configured">The limits in the container's host's configuration, when the answering host is that host.</param>
/// <param name="Effective">What the coordinator checks: the set limits over the configured ones (null when the answering host cannot know them all).</param>
public sealed record LlsQuotaView(string Owner, IReadOnlyDictionary<string, string> Set, LlsLimits? Configured, LlsLimits? Effective, long Bytes, int Volumes, int Snapshots);

/// <summary>A snapshot's delta applied to an LV of the cluster (<c>vgmesh sync SNAP --to LV</c>): where, and what was written.</summary>
/// <param name="Host">The host that wrote it (where the LV is active).</param>
/// <param name="Snapback">Where, on that host, what the apply overwrote was saved.</param>
public sealed record SyncResultView(string Host, string Lv, long Records, long Bytes, long Written, double Seconds, string? Snapback);

/// <summary>
/// One line of <c>POST /v1/lvs/{dest}/sync</c>'s answer (<c>application/x-ndjson</c>): progress
/// (bytes applied so far) about every second, then the result or the error that stopped it.
/// </summary>
public sealed record SyncLine(long? Bytes = null, SyncResultView? Result = null, Problem? Error = null);

/// <summary>RFC 9457 problem details, with vgmesh's stable <see cref="Code"/>.</summary>
public sealed record Problem(string Type, string Title, int Status, string Detail, string Code);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, UseStringEnumConverter = true)]
[JsonSerializable(typeof(LvView))]
[JsonSerializable(typeof(List<CloneUsageView>))]
[JsonSerializable(typeof(List<LvView>))]
[JsonSerializable(typeof(CreateLvBody))]
[JsonSerializable(typeof(ResizeLvBody))]
[JsonSerializable(typeof(ActivateLvBody))]
[JsonSerializable(typeof(DeactivateLvBody))]
[JsonSerializable(typeof(RenameLvBody))]
[JsonSerializable(typeof(SnapshotLvBody))]
[JsonSerializable(typeof(MergeLvBody))]
[JsonSerializable(typeof(TagLvBody))]
[JsonSerializable(typeof(LlsFlagsBody))]
[JsonSerializable(typeof(EventView))]
[JsonSerializable(typeof(OperationView))]
[JsonSerializable(typeof(HostView))]
[JsonSerializable(typeof(List<HostView>))]
[JsonSerializable(typeof(ClusterStatusView))]
[JsonSerializable(typeof(Problem))]
[JsonSerializable(typeof(LlsVolumeView))]
[JsonSerializable(typeof(List<LlsVolumeView>))]
[JsonSerializable(typeof(LlsCreateBody))]
[JsonSerializable(typeof(LlsSnapshotBody))]
[JsonSerializable(typeof(LlsResizeBody))]
[JsonSerializable(typeof(LlsQuotaBody))]
[JsonSerializable(typeof(SyncResultView))]
[JsonSerializable(typeof(SyncLine))]
[JsonSerializable(typeof(List<LlsQuotaView>))]
public sealed partial class ApiJsonContext : JsonSerializerContext;
