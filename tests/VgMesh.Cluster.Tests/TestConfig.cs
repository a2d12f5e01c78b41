namespace VgMesh.Cluster.Tests;

/// <summary>Configuration the actor tests share: vgmesh's serializer bound as the hosting wires it.</summary>
internal static class TestConfig
{
    public const string SerializerBinding = """
        akka.actor.serializers.vgmesh = "VgMesh.Cluster.Serialization.ClusterSerializer, VgMesh.Cluster"
        akka.actor.serialization-bindings { "VgMesh.Cluster.IClusterMessage, VgMesh.Cluster" = vgmesh }

        """;
}
