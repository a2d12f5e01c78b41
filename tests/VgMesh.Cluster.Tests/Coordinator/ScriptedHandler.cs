using System.Collections.Concurrent;
using VgMesh.Cluster.Coordinator;

namespace VgMesh.Cluster.Tests.Coordinator;

/// <summary>An operation handler whose behaviour each test scripts; it records every call and every "LVM command" it ran.</summary>
internal sealed class ScriptedHandler : IOperationHandler
{
    public ConcurrentQueue<OperationContext> Calls { get; } = new();

    public ConcurrentQueue<string> Commands { get; } = new();

    public Func<OperationContext, CancellationToken, Task<OperationOutcome>> Behaviour { get; set; } =
        (c, _) => Task.FromResult(new OperationOutcome(OperationStatus.Succeeded, $"did {c.Request.Id}", null, [Event(c.Request.Id)], []));

    public static ClusterEvent Event(string id, string kind = "lv.created") => new(kind, "san/" + id, null, 1, id, "node1", DateTimeOffset.UnixEpoch);

    /// <summary>What a handler does before each metadata write: check the lease, then "run" the command.</summary>
    public void RunLvm(OperationContext c, string command)
    {
        c.Lease.EnsureHeld();
        Commands.Enqueue(command);
    }

    public Task<OperationOutcome> HandleAsync(OperationContext context, CancellationToken leaseLost)
    {
        Calls.Enqueue(context);
        return Behaviour(context, leaseLost);
    }
}
