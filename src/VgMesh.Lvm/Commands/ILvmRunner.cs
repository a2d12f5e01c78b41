namespace VgMesh.Lvm.Commands;

/// <summary>The one choke point through which every <c>lvm</c> and <c>dmsetup</c> process starts.</summary>
public interface ILvmRunner
{
    /// <summary>
    /// Runs the command and returns how it ended, whatever its exit code. Throws
    /// <see cref="LvmTimeoutException"/> when killed for time, <see cref="LvmWriteNotPermittedException"/>
    /// for a write without a valid permit (before any process starts), and
    /// <see cref="OperationCanceledException"/> when the caller cancels (the process is killed).
    /// </summary>
    Task<ProcessResult> RunAsync(LvmCommand command, CancellationToken cancellationToken);

    /// <summary>
    /// Whether this choke point started the process <paramref name="pid"/> in the last minutes
    /// (true), did not (false), or cannot tell (null: its commands run behind a prefix such as ssh,
    /// whose process is not LVM's).
    /// </summary>
    bool? Started(int pid) => null;
}
