namespace VgMesh.Agent.Operations;

/// <summary>
/// The coordinator's work for one kind of operation: re-reads what it needs, checks its
/// preconditions, runs its LVM command under the run's permit (checked right before the command
/// starts), and says what it did. A refusal is a <see cref="VolumeException"/>.
/// </summary>
public interface IVolumeOperation
{
    /// <summary>The operation kinds (<see cref="OperationKinds"/>) this handles.</summary>
    IReadOnlyCollection<string> Kinds { get; }

    Task<OperationDone> RunAsync(OperationRun run, CancellationToken ct);
}
