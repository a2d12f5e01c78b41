using System.Text.Json;
using System.Text.Json.Serialization;

namespace VgMesh.Agent;

/// <summary>
/// An activation claim, written only by the coordinator (fenced, with the operation's result):
/// <c>claims/LV</c>. <see cref="Host"/> null with mode <c>inactive</c> means active nowhere.
/// </summary>
public sealed record ActivationClaim(string? Host, string Mode, long FencingToken, DateTimeOffset At)
{
    public const string Exclusive = "exclusive";
    public const string Inactive = "inactive";
}

/// <summary>What a host reports of itself after each reconcile pass: <c>status/HOST</c>, bound to its session.</summary>
public sealed record HostStatus(IReadOnlyList<ActiveLv> Active, IReadOnlyList<string> Alerts, long AppliedRevision, DateTimeOffset At, IReadOnlyList<string>? Fenced = null);

public sealed record ActiveLv(string Name, int OpenCount);

/// <summary>An operation's payload: which LV, and the kind-specific arguments.</summary>
public sealed record LvOperation(string Lv, long? SizeBytes = null, int SizeSign = 0, IReadOnlyList<string>? Tags = null, string? Host = null, bool Exclusive = true, bool Wait = false);

/// <summary>Operation kinds, as stored in the queue.</summary>
public static class OperationKinds
{
    public const string Create = "lv.create";
    public const string Remove = "lv.remove";
    public const string Extend = "lv.extend";
    public const string Reduce = "lv.reduce";
    public const string Activate = "lv.activate";
    public const string Deactivate = "lv.deactivate";
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(ActivationClaim))]
[JsonSerializable(typeof(HostStatus))]
[JsonSerializable(typeof(LvOperation))]
[JsonSerializable(typeof(HashSet<string>))]
internal sealed partial class AgentJsonContext : JsonSerializerContext;

internal static class CatalogKeys
{
    public const string Claims = "claims/";
    public const string Status = "status/";

    public static string Claim(string lv) => Claims + lv;

    public static string StatusOf(string host) => Status + host;
}
