using System.ComponentModel;
using System.Diagnostics;

namespace VgMesh.Lvm.Commands;

/// <summary>A child process was cancelled and killed (with its tree); <see cref="Partial"/> holds what it printed.</summary>
public sealed class ChildProcessCancelledException(ProcessResult partial) : OperationCanceledException($"'{partial.CommandLine}' was cancelled and killed")
{
    public ProcessResult Partial { get; } = partial;
}

/// <summary>
/// Starts a program from an argument array (never a shell string), feeds its stdin, and keeps
/// exit code, stdout, stderr and duration together. Cancellation kills the whole process tree.
/// </summary>
public static class ChildProcess
{
    /// <param name="onStart">Told the process id as soon as the process runs, before it can do anything others could see.</param>
    /// <exception cref="ChildProcessCancelledException">When <paramref name="ct"/> fires; the process is dead by then.</exception>
    /// <exception cref="Win32Exception">When the program cannot be started.</exception>
    public static async Task<ProcessResult> RunAsync(
        IReadOnlyList<string> argv, IEnumerable<KeyValuePair<string, string>>? environment, string? stdin, TimeProvider time, CancellationToken ct, Action<int>? onStart = null)
    {
        ArgumentNullException.ThrowIfNull(argv);
        ArgumentNullException.ThrowIfNull(time);
        var psi = new ProcessStartInfo(argv[0])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in argv.Skip(1))
        {
            psi.ArgumentList.Add(a);
        }

        foreach (var (k, v) in environment ?? [])
        {
            psi.Environment[k] = v;
        }

        var started = time.GetTimestamp();
        using var process = new Process { StartInfo = psi };
        process.Start();
        onStart?.Invoke(process.Id);
        var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        try
        {
            if (stdin is not null)
            {
                await process.StandardInput.WriteAsync(stdin.AsMemory(), ct).ConfigureAwait(false);
            }

            process.StandardInput.Close();
            await process.WaitForExitAsync(ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            try
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit(5000);
            }
            catch (InvalidOperationException)
            {
                // Already exited between the cancellation and the kill.
            }

            throw new ChildProcessCancelledException(new ProcessResult(argv, -1, await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false), time.GetElapsedTime(started)));
        }

        return new ProcessResult(argv, process.ExitCode, await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false), time.GetElapsedTime(started));
    }
}
