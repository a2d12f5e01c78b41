namespace VgMesh.Cluster.Events;

// The event follower's messages. It also takes EventsCommitted from the events topic.

/// <summary>Answered with the host's <see cref="AppliedPosition"/>.</summary>
public sealed record GetAppliedPosition
{
    public static GetAppliedPosition Instance { get; } = new();
}
