using System.Text.Json;
using System.Text.Json.Serialization;

namespace VgMesh.Agent;

/// <summary>
/// An activation claim, written only by the coordinator (fenced, with the operation's result):
/// <c>claims/LV</c>. <see cref="Host"/> null with mode <c>inactive</c> means active nowhere; mode
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
}

/// <summary>What a host reports of itself after each reconcile pass: <c>status/HOST</c>, bound to its session.</summary>
public sealed record HostStatus(IReadOnlyList<ActiveLv> Active, IReadOnlyList<string> Alerts, long AppliedRevision, DateTimeOffset At, IReadOnlyList<string>? Fenced = null);

/// <param name="Announced">Announced by the activation guard, not active yet: other hosts treat it as active; an activation is not answered on it.</param>
public sealed record ActiveLv(string Name, int OpenCount, bool Announced = false);

/// <summary>An operation's payload: which LV, and the kind-specific arguments.</summary>
/// <param name="NewName">Rename: the new name. Snapshot: the snapshot's name (<see cref="Lv"/> is the origin).</param>
/// <param name="ChunkBytes">Snapshot: the COW chunk size, or null for LVM's default.</param>
public sealed record LvOperation(
    string Lv, long? SizeBytes = null, int SizeSign = 0, IReadOnlyList<string>? Tags = null, string? Host = null, bool Exclusive = true, bool Wait = false,
    string? NewName = null, long? ChunkBytes = null);

/// <summary>
/// A metadata write the coordinator hands to the host where the LV is active (that kernel must
/// do the copy-on-write or reload the table), under the coordinator's fencing token, which the
/// host checks against the store right before the command. Sizes are absolute here.
/// </summary>
public sealed record DelegatedStep(string Kind, LvOperation Args, string Coordinator, long FencingToken, string OperationId);

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
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(ActivationClaim))]
[JsonSerializable(typeof(HostStatus))]
[JsonSerializable(typeof(LvOperation))]
[JsonSerializable(typeof(DelegatedStep))]
[JsonSerializable(typeof(StepResult))]
[JsonSerializable(typeof(HashSet<string>))]
[JsonSerializable(typeof(Dictionary<string, ActivationClaim>))]
internal sealed partial class AgentJsonContext : JsonSerializerContext;

internal static class CatalogKeys
{
    public const string Claims = "claims/";
    public const string Status = "status/";

    public static string Claim(string lv) => Claims + lv;

    public static string StatusOf(string host) => Status + host;
}
