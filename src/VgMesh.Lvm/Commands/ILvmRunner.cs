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
}
