using System.Text.Json;
using VgMesh.Cluster.Coordinator;
using VgMesh.Cluster.Serialization;

namespace VgMesh.Cluster.Tests;

/// <summary>A state as its persisted form: two states are the same when these are.</summary>
internal static class StateJson
{
    public static string Of(CoordinatorState s) => JsonSerializer.Serialize(s, ClusterJsonContext.Default.CoordinatorState);
}
