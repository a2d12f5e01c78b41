using System.Text.Json;
using System.Text.Json.Serialization;

namespace VgMesh.Agent;

/// <summary>
/// An activation claim as this host last read it from the coordinator (and keeps on disk for
/// fencing). <see cref="Host"/> null with mode <c>inactive</c> means active nowhere; mode
/// <c>shared</c> names its hosts in <see cref="SharedBy"/> (a cluster filesystem's LV, say).
/// </summary>
public sealed record ActivationClaim(string? Host, string Mode, long FencingToken, DateTimeOffset At, IReadOnlyList<string>? SharedBy = null)
{
    public const string Exclusive = "exclusive";
    public const string Shared = "shared";
    public const string Inactive = "inactive";

    /// <summary>The hosts this claim wants the LV active on.</summary>
    public IReadOnlyList<string> Holders => Mode switch
    {
        Exclusive when Host is not null => [Host],
        Shared => SharedBy ?? [],
        _ => [],
    };

    public static ActivationClaim From(VgMesh.Cluster.Claim c)
    {
        ArgumentNullException.ThrowIfNull(c);
        return c switch
        {
            { Hosts.IsEmpty: true } => new(null, Inactive, c.Generation, c.Since),
            { Mode: VgMesh.Cluster.ClaimMode.Exclusive } => new(c.Hosts[0], Exclusive, c.Generation, c.Since),
            _ => new(null, Shared, c.Generation, c.Since, [.. c.Hosts]),
        };
    }
}

/// <summary>What a host reports of itself after each reconcile pass (to the coordinator, which keeps it in memory).</summary>
/// <param name="ApiAddress">This host's TCP API, where a coordinator sends a delegated step.</param>
/// <param name="Storage">The shared LUN's paths and this host's registration, where storage fencing is on.</param>
public sealed record HostStatus(IReadOnlyList<ActiveLv> Active, IReadOnlyList<string> Alerts, long AppliedRevision, DateTimeOffset At, IReadOnlyList<string>? Fenced = null, string? ApiAddress = null,
    VgMesh.Client.StorageView? Storage = null,
    VgMesh.Client.LockdView? Lockd = null)
{
    /// <summary>The report as the coordinator holds it: the active LVs it reads, the rest as this record's JSON.</summary>
    public VgMesh.Cluster.Coordinator.HostReport ToReport(string host) =>
        new(host, [.. Active.Select(a => new VgMesh.Cluster.Coordinator.ReportedLv(a.Name, a.OpenCount, a.Announced))],
            JsonSerializer.Serialize(this with { Active = [] }, AgentJsonContext.Default.HostStatus), At);

    public static HostStatus FromReport(VgMesh.Cluster.Coordinator.HostReport r)
    {
        ArgumentNullException.ThrowIfNull(r);
        var rest = string.IsNullOrEmpty(r.Details) ? null : JsonSerializer.Deserialize(r.Details, AgentJsonContext.Default.HostStatus);
        return (rest ?? new HostStatus([], [], 0, r.At)) with { Active = [.. r.Active.Select(a => new ActiveLv(a.Lv, a.OpenCount, a.Announced))] };
    }
}

/// <param name="Announced">Announced by the activation guard, not active yet: other hosts treat it as active; an activation is not answered on it.</param>
public sealed record ActiveLv(string Name, int OpenCount, bool Announced = false);

/// <summary>An operation's payload: which LV, and the kind-specific arguments.</summary>
/// <param name="NewName">Rename: the new name. Snapshot: the snapshot's name (<see cref="Lv"/> is the origin).</param>
/// <param name="ChunkBytes">Snapshot: the COW chunk size, or null for LVM's default.</param>
/// <param name="Owner">An LLS container's request (<c>HOST/CONTAINER</c>): the coordinator runs it only on an LV tagged as that owner's.</param>
/// <param name="Why">Why the agent itself asked for it (a collection), kept with the event.</param>
/// <param name="Untags">Tag: the tags to take off (<see cref="Tags"/> are put on).</param>
/// <param name="Quota">An LLS container's quota (its host's configuration), checked by the coordinator against the VG as it is when the operation runs, with the limits set in the VG's tags in front.</param>
/// <param name="QuotaChanges">Quota (<see cref="OperationKinds.LlsQuota"/>): <c>limit=N|none|inherit</c> for <see cref="Owner"/>; <see cref="Lv"/> is the container's name prefix.</param>
public sealed record LvOperation(
    string Lv, long? SizeBytes = null, int SizeSign = 0, IReadOnlyList<string>? Tags = null, string? Host = null, bool Exclusive = true, bool Wait = false,
    string? NewName = null, long? ChunkBytes = null, string? Owner = null, Lls.LlsQuota? Quota = null, IReadOnlyList<string>? Untags = null, string? Why = null,
    IReadOnlyList<string>? QuotaChanges = null);

/// <summary>
/// A metadata write the coordinator hands to the host where the LV is active (that kernel must
/// do the copy-on-write or reload the table), under the coordinator's lease: its owner and
/// generation, which the host checks against the lease row right before the command.
/// </summary>
public sealed record DelegatedStep(string Kind, LvOperation Args, string Coordinator, long FencingToken, string OperationId, string LeaseOwner);

/// <summary>A delegated step's answer: what was done, and the <c>vg_seqno</c> its command committed (null when LVM did not say).</summary>
public sealed record StepResult(string Message, long? VgSeqno);

/// <summary>Operation kinds, as stored in the queue.</summary>
public static class OperationKinds
{
    public const string Create = "lv.create";
    public const string Remove = "lv.remove";
    public const string Extend = "lv.extend";
    public const string Reduce = "lv.reduce";
    public const string Activate = "lv.activate";
    public const string Deactivate = "lv.deactivate";
    public const string Rename = "lv.rename";
    public const string Snapshot = "lv.snapshot";
    public const string Merge = "lv.merge";
    public const string Tag = "lv.tag";

    /// <summary>Limits set for a container in the VG's tags (<see cref="Lls.LlsQuotaTags"/>).</summary>
    public const string LlsQuota = "lls.quota";
}

/// <summary>The agent's managed heap after a full, blocking collection (<c>POST /v1/debug/heap</c>, Unix socket only).</summary>
/// <param name="LiveBytes">What survived the collection: the live size, where a leak shows.</param>
public sealed record HeapView(long LiveBytes, long CommittedBytes, long TotalAllocatedBytes, int FullCollections);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(HeapView))]
[JsonSerializable(typeof(ActivationClaim))]
[JsonSerializable(typeof(HostStatus))]
[JsonSerializable(typeof(LvOperation))]
[JsonSerializable(typeof(DelegatedStep))]
[JsonSerializable(typeof(StepResult))]
[JsonSerializable(typeof(HashSet<string>))]
[JsonSerializable(typeof(Dictionary<string, ActivationClaim>))]
[JsonSerializable(typeof(Dictionary<string, Dictionary<string, string>>))]
[JsonSerializable(typeof(Dictionary<string, DateTimeOffset>))]
internal sealed partial class AgentJsonContext : JsonSerializerContext;
