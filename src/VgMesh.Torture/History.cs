using System.Text.Json.Serialization;
using VgMesh.Client;

namespace VgMesh.Torture;

/// <summary>How a request ended as its client saw it.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<Outcome>))]
public enum Outcome
{
    /// <summary>Acknowledged: the agent answered success.</summary>
    Ok,

    /// <summary>Refused for certain: an error answer below 500.</summary>
    Failed,

    /// <summary>Nobody knows: a timeout, any connection error (even a refused connect: see TortureRun.SendAsync), a 5xx such as 503 outcome-unknown.</summary>
    Unknown,
}

/// <summary>One metadata operation a client asks for. <see cref="Lv"/> is the LV in the path.</summary>
/// <param name="Kind">create, extend, reduce, remove, rename, snapshot, merge, activate, activate-shared, deactivate.</param>
/// <param name="Arg">The size, new name or snapshot name the kind needs.</param>
/// <param name="Host">The host an activation or a host-scoped deactivation names.</param>
public sealed record TortureOp(string Kind, string Lv, string? Arg = null, string? Host = null)
{
    public override string ToString() => $"{Kind} {Lv}{(Arg is null ? "" : " " + Arg)}{(Host is null ? "" : " on " + Host)}";
}

/// <summary>A request from invocation to completion. <see cref="Via"/> is the host whose API it went to.</summary>
public sealed record HistoryEntry(int Client, string Via, TortureOp Op, string OperationId, DateTimeOffset Invoked, DateTimeOffset Completed, Outcome Outcome, string? Code, long? Revision, string? Message)
{
    public override string ToString() =>
        $"{Invoked:HH:mm:ss.fff}-{Completed:HH:mm:ss.fff} client {Client} via {Via}: {Op} [{OperationId}] -> {Outcome}{(Code is null ? "" : " " + Code)}{(Revision is { } r ? " rev " + r : "")}";
}

/// <summary>A fault the nemesis injected, from its start until it was healed.</summary>
public sealed record FaultEntry(string Kind, string Host, DateTimeOffset Start, DateTimeOffset End)
{
    public override string ToString() => $"{Start:HH:mm:ss.fff}-{End:HH:mm:ss.fff} fault {Kind} {Host}";
}

/// <summary>
/// One look at a host's device-mapper, between <see cref="Start"/> and <see cref="End"/> (the
/// hosts share this machine's clock): the LVs of the VG whose table there is live (a fenced
/// device's table is all <c>error</c> and is not live).
/// </summary>
public sealed record DmSample(string Host, DateTimeOffset Start, DateTimeOffset End, IReadOnlySet<string> Live);

/// <summary>What the run found at its end, after every fault was healed.</summary>
/// <param name="AppliedByHost">Each host's applied revision as the cluster reports it.</param>
/// <param name="Lvs">The VG's LVs as LVM reads them from the disk.</param>
/// <param name="DmByHost">Each host's device-mapper devices of the VG (live or not), by LV.</param>
public sealed record FinalState(
    long LastEvent,
    IReadOnlyDictionary<string, long> AppliedByHost,
    IReadOnlyDictionary<string, long> VgSeqnoByHost,
    bool VgckClean,
    string VgckOutput,
    IReadOnlySet<string> Lvs,
    IReadOnlyDictionary<string, IReadOnlySet<string>> DmByHost,
    double ConvergedSeconds)
{
    /// <summary>Each host's LVs whose device there is wiped (an <c>error</c> table: fenced).</summary>
    public IReadOnlyDictionary<string, IReadOnlySet<string>> WipedByHost { get; init; } = new Dictionary<string, IReadOnlySet<string>>();

    /// <summary>Each host's agent's record of the LVs it fenced (its <c>fenced.json</c>, what its status and alerts tell the operator).</summary>
    public IReadOnlyDictionary<string, IReadOnlySet<string>> FencedByHost { get; init; } = new Dictionary<string, IReadOnlySet<string>>();
}

/// <summary>A broken promise, with the smallest part of the history that shows it.</summary>
public sealed record Violation(string Check, string What, IReadOnlyList<string> Excerpt);

/// <summary>Everything a checker reads: the requests, the faults, the samples, the journal, the end.</summary>
public sealed record TortureHistory(
    string RunId,
    IReadOnlyList<HistoryEntry> Requests,
    IReadOnlyList<FaultEntry> Faults,
    IReadOnlyList<DmSample> Samples,
    IReadOnlyList<EventView> Events,
    FinalState Final);
