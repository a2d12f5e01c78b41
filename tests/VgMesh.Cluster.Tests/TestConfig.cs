namespace VgMesh.Cluster.Tests;

/// <summary>Configuration the actor tests share: vgmesh's serializer bound as the hosting wires it.</summary>
internal static class TestConfig
{
    public const string SerializerBinding = """
        akka.actor.serializers.vgmesh = "VgMesh.Cluster.Serialization.ClusterSerializer, VgMesh.Cluster"
        akka.actor.serialization-bindings { "VgMesh.Cluster.IClusterMessage, VgMesh.Cluster" = vgmesh }

        """;

    /// <summary>The coordinator on Akka's in-memory journal and snapshot store (shared by every actor of one test's system).</summary>
    public const string InMemoryCoordinator = SerializerBinding + """
        akka.persistence.journal.plugin = "akka.persistence.journal.inmem"
        akka.persistence.snapshot-store.plugin = "akka.persistence.snapshot-store.inmem"
        akka.loglevel = INFO
        """;
}
