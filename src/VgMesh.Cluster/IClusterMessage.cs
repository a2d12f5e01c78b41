namespace VgMesh.Cluster;

/// <summary>
/// Every message that crosses the network between agents, and everything the coordinator
/// persists, implements this: it binds the type to vgmesh's own serializer
/// (<see cref="Serialization.ClusterSerializer"/>), so no type name is ever read off the wire.
/// </summary>
public interface IClusterMessage;
