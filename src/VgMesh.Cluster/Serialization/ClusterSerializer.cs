using System.Collections.Frozen;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Akka.Actor;
using Akka.Serialization;
using VgMesh.Cluster.Coordinator;

namespace VgMesh.Cluster.Serialization;

/// <summary>
/// The one serializer for every <see cref="IClusterMessage"/>: what crosses the network between
/// agents and what the coordinator persists. System.Text.Json with source-generated contracts;
/// the manifest names the type and its format version (<c>OperationAccepted.v1</c>), never a
/// CLR type name, so a message from the wire can only become one of the types listed here and
/// journals stay readable after a type is renamed or moved. A new format of a type gets a new
/// manifest (<c>.v2</c>) beside the old one, which stays readable.
/// </summary>
public sealed class ClusterSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    /// <summary>Akka's serializer id for this serializer; stored in every journal row. Never change it.</summary>
    public const int Id = 7411;

    private static readonly (Type Type, string Manifest, JsonTypeInfo Info)[] Formats =
    [
        (typeof(CoordinatorStarted), "CoordinatorStarted.v1", ClusterJsonContext.Default.CoordinatorStarted),
        (typeof(OperationAccepted), "OperationAccepted.v1", ClusterJsonContext.Default.OperationAccepted),
        (typeof(OperationStarted), "OperationStarted.v1", ClusterJsonContext.Default.OperationStarted),
        (typeof(OperationCompleted), "OperationCompleted.v1", ClusterJsonContext.Default.OperationCompleted),
        (typeof(HistoryMarked), "HistoryMarked.v1", ClusterJsonContext.Default.HistoryMarked),
        (typeof(HistoryPruned), "HistoryPruned.v1", ClusterJsonContext.Default.HistoryPruned),
        (typeof(CoordinatorState), "CoordinatorState.v1", ClusterJsonContext.Default.CoordinatorState),
        (typeof(SubmitOperation), "SubmitOperation.v1", ClusterJsonContext.Default.SubmitOperation),
        (typeof(OperationFinished), "OperationFinished.v1", ClusterJsonContext.Default.OperationFinished),
        (typeof(OperationRefused), "OperationRefused.v1", ClusterJsonContext.Default.OperationRefused),
        (typeof(GetCoordinatorStatus), "GetCoordinatorStatus.v1", ClusterJsonContext.Default.GetCoordinatorStatus),
        (typeof(CoordinatorStatus), "CoordinatorStatus.v1", ClusterJsonContext.Default.CoordinatorStatus),
        (typeof(HostApplied), "HostApplied.v1", ClusterJsonContext.Default.HostApplied),
        (typeof(EventsCommitted), "EventsCommitted.v1", ClusterJsonContext.Default.EventsCommitted),
        (typeof(EventsAvailable), "EventsAvailable.v1", ClusterJsonContext.Default.EventsAvailable),
        (typeof(HostReport), "HostReport.v1", ClusterJsonContext.Default.HostReport),
        (typeof(HostReported), "HostReported.v1", ClusterJsonContext.Default.HostReported),
        (typeof(CoordinatorReady), "CoordinatorReady.v1", ClusterJsonContext.Default.CoordinatorReady),
        (typeof(HostPing), "HostPing.v1", ClusterJsonContext.Default.HostPing),
        (typeof(HostPong), "HostPong.v1", ClusterJsonContext.Default.HostPong),
        (typeof(CheckActivation), "CheckActivation.v1", ClusterJsonContext.Default.CheckActivation),
        (typeof(ActivationVerdict), "ActivationVerdict.v1", ClusterJsonContext.Default.ActivationVerdict),
        (typeof(WaitApplied), "WaitApplied.v1", ClusterJsonContext.Default.WaitApplied),
        (typeof(LockHostIdRecorded), "LockHostIdRecorded.v1", ClusterJsonContext.Default.LockHostIdRecorded),
        (typeof(AssignLockHostId), "AssignLockHostId.v1", ClusterJsonContext.Default.AssignLockHostId),
        (typeof(LockHostIdAnswer), "LockHostIdAnswer.v1", ClusterJsonContext.Default.LockHostIdAnswer),
        (typeof(RecordOperation), "RecordOperation.v1", ClusterJsonContext.Default.RecordOperation),
    ];

    private static readonly FrozenDictionary<Type, (string Manifest, JsonTypeInfo Info)> ByType =
        Formats.ToFrozenDictionary(f => f.Type, f => (f.Manifest, f.Info));

    private static readonly FrozenDictionary<string, JsonTypeInfo> ByManifest =
        Formats.ToFrozenDictionary(f => f.Manifest, f => f.Info, StringComparer.Ordinal);

    /// <summary>Every type this serializer writes: each is bound to it explicitly.</summary>
    public static IReadOnlyList<Type> BoundTypes { get; } = [.. Formats.Select(f => f.Type)];

    public override int Identifier => Id;

    public override string Manifest(object o) => Format(o.GetType()).Manifest;

    public override byte[] ToBinary(object obj) => JsonSerializer.SerializeToUtf8Bytes(obj, Format(obj.GetType()).Info);

    public override object FromBinary(byte[] bytes, string manifest) =>
        ByManifest.TryGetValue(manifest, out var info)
            ? JsonSerializer.Deserialize(bytes, info) ?? throw new System.Runtime.Serialization.SerializationException($"vgmesh message '{manifest}' is empty")
            : throw new System.Runtime.Serialization.SerializationException($"unknown vgmesh message format '{manifest}': written by a newer vgmesh? Upgrade this host's vgmesh.");

    private static (string Manifest, JsonTypeInfo Info) Format(Type t) =>
        ByType.TryGetValue(t, out var f) ? f : throw new ArgumentException($"{t.Name} has no vgmesh wire format; add it to ClusterSerializer", nameof(t));
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, UseStringEnumConverter = true)]
[JsonSerializable(typeof(CoordinatorStarted))]
[JsonSerializable(typeof(OperationAccepted))]
[JsonSerializable(typeof(OperationStarted))]
[JsonSerializable(typeof(OperationCompleted))]
[JsonSerializable(typeof(HistoryMarked))]
[JsonSerializable(typeof(HistoryPruned))]
[JsonSerializable(typeof(CoordinatorState))]
[JsonSerializable(typeof(SubmitOperation))]
[JsonSerializable(typeof(OperationFinished))]
[JsonSerializable(typeof(OperationRefused))]
[JsonSerializable(typeof(GetCoordinatorStatus))]
[JsonSerializable(typeof(CoordinatorStatus))]
[JsonSerializable(typeof(HostApplied))]
[JsonSerializable(typeof(EventsCommitted))]
[JsonSerializable(typeof(EventsAvailable))]
[JsonSerializable(typeof(HostReport))]
[JsonSerializable(typeof(HostReported))]
[JsonSerializable(typeof(CoordinatorReady))]
[JsonSerializable(typeof(HostPing))]
[JsonSerializable(typeof(HostPong))]
[JsonSerializable(typeof(CheckActivation))]
[JsonSerializable(typeof(ActivationVerdict))]
[JsonSerializable(typeof(WaitApplied))]
[JsonSerializable(typeof(LockHostIdRecorded))]
[JsonSerializable(typeof(AssignLockHostId))]
[JsonSerializable(typeof(RecordOperation))]
[JsonSerializable(typeof(LockHostIdAnswer))]
[JsonSerializable(typeof(VgMesh.Cluster.Events.AppliedPosition))]
internal sealed partial class ClusterJsonContext : JsonSerializerContext;
