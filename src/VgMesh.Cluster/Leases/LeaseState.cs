namespace VgMesh.Cluster.Leases;

/// <summary>This node's part in a lease, as an operator reads it: the singleton's leadership made visible.</summary>
public enum LeaseState
{
    /// <summary>Not held, and not asked for lately (another node coordinates, or none wants it).</summary>
    None,

    /// <summary>Asked for and refused lately: this node would coordinate, but the row is another owner's (an old holder's, until it runs out).</summary>
    Acquiring,

    /// <summary>Held with more than the safety margin left: this node may write under it.</summary>
    Held,

    /// <summary>Was held and was lost (not renewed in time, or taken): coordinator work here stopped.</summary>
    Lost,
}
