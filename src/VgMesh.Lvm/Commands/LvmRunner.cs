using Microsoft.Extensions.Logging;

namespace VgMesh.Lvm.Commands;

/// <summary>
/// Starts <c>lvm</c> and <c>dmsetup</c> from argument arrays with <c>LC_ALL=C</c>, kills them
/// (whole tree) on timeout or cancellation, and logs every run with its exit code and duration.
/// </summary>
public sealed partial class LvmRunner : ILvmRunner
{
    /// <summary>
    /// Set on every LVM command that has no write permit. LVM 2.03.16 does not enforce it for
    /// writes (see <see cref="MetadataWritePermit"/>) but it does stop LVM's own automatic repairs
    /// of inconsistent metadata, which must come from the one writer only.
    /// </summary>
    public const string ReadOnlySetting = "global/metadata_read_only=1";

    /// <summary>Set when <see cref="LvmRunnerOptions.WaitForLocks"/> is off: a held VG lock fails at once.</summary>
    public const string NoWaitSetting = "global/wait_for_locks=0";

    private readonly LvmRunnerOptions _options;
    private readonly ILogger<LvmRunner> _logger;
    private readonly TimeProvider _time;

    // The processes this runner started, by pid, with when: lvmlockd's log names the process of
    // each lock request, and only these are vgmesh's own. Kept for PidsKeptFor, then forgotten
    // (pids are reused).
    private readonly System.Collections.Concurrent.ConcurrentDictionary<int, long> _pids = new();
    private static readonly TimeSpan PidsKeptFor = TimeSpan.FromMinutes(10);

    public LvmRunner(LvmRunnerOptions options, ILogger<LvmRunner> logger, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Validate();
        _logger = logger;
        _time = time;
    }

    public LvmRunnerOptions Options => _options;

    /// <summary>The exact argv the command runs as; exposed so tests can check it without a process.</summary>
    public IReadOnlyList<string> BuildArgv(LvmCommand command)
    {
        ArgumentNullException.ThrowIfNull(command);
        var argv = new List<string>(_options.CommandPrefix);
        if (_options.CommandPrefix.Count > 0)
        {
            // Behind a prefix (chroot, nsenter, ssh) our process environment may not arrive.
            argv.Add("env");
            argv.AddRange(Environment().Select(kv => $"{kv.Key}={kv.Value}"));
        }

        argv.Add(command.Tool switch
        {
            LvmTool.Lvm => _options.LvmBinary,
            LvmTool.Dmsetup => _options.DmsetupBinary,
            LvmTool.ThinDelta => _options.ThinDeltaBinary,
            LvmTool.Lvmlockctl => _options.LvmlockctlBinary,
            LvmTool.Sanlock => _options.SanlockBinary,
            _ => _options.MpathpersistBinary,
        });
        if (command.Tool == LvmTool.Lvm && command.Args.Count > 0)
        {
            // Settings go right after the sub-command: anything after a "--" is an object name.
            argv.Add(command.Args[0]);
            var settings = Settings(command);
            if (settings.Length > 0)
            {
                // LVM takes one --config; several settings share it, separated by spaces.
                argv.Add("--config");
                argv.Add(settings);
            }

            argv.AddRange(command.Args.Skip(1));
        }
        else
        {
            argv.AddRange(command.Args);
        }

        return argv;
    }

    public async Task<ProcessResult> RunAsync(LvmCommand command, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(command);
        EnsureSafe(command);
        var argv = BuildArgv(command);
        if (command.WritesMetadata)
        {
            if (command.Permit is null)
            {
                throw new LvmWriteNotPermittedException(string.Join(' ', argv));
            }

            // Checked as late as possible: the permit may have lapsed while the caller prepared.
            command.Permit.EnsureValid();
        }

        using var timeout = new CancellationTokenSource(_options.Timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        ProcessResult result;
        try
        {
            result = await ChildProcess.RunAsync(argv, Environment(), command.Stdin, _time, linked.Token, Remember).ConfigureAwait(false);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new LvmCommandException(new ProcessResult(argv, 127, "", $"cannot start '{argv[0]}': {e.Message}", TimeSpan.Zero));
        }
        catch (ChildProcessCancelledException e)
        {
            if (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                LogTimedOut(_logger, e.Partial.CommandLine, _options.Timeout.TotalSeconds);
                throw new LvmTimeoutException(e.Partial.CommandLine, _options.Timeout, e.Partial);
            }

            LogCancelled(_logger, e.Partial.CommandLine);
            throw;
        }

        if (result.Succeeded)
        {
            LogRan(_logger, result.CommandLine, result.Duration.TotalMilliseconds);
        }
        else
        {
            LogFailed(_logger, result.CommandLine, result.ExitCode, result.Duration.TotalMilliseconds, result.StderrSummary);
        }

        return result;
    }

    public bool? Started(int pid)
    {
        if (_options.CommandPrefix.Count > 0)
        {
            return null;
        }

        return _pids.TryGetValue(pid, out var at) && _time.GetElapsedTime(at) < PidsKeptFor;
    }

    private void Remember(int pid)
    {
        var now = _time.GetTimestamp();
        _pids[pid] = now;
        if (_pids.Count > 4096)
        {
            foreach (var (old, at) in _pids)
            {
                if (_time.GetElapsedTime(at, now) >= PidsKeptFor)
                {
                    _pids.TryRemove(old, out _);
                }
            }
        }
    }

    /// <summary>Printable ASCII only, in every argument: see <see cref="LvmUnsafeArgumentException"/>.</summary>
    public static void EnsureSafe(LvmCommand command)
    {
        ArgumentNullException.ThrowIfNull(command);
        for (var i = 0; i < command.Args.Count; i++)
        {
            if (command.Args[i].AsSpan().ContainsAnyExceptInRange(' ', '~'))
            {
                throw new LvmUnsafeArgumentException(command.ObjectName, i);
            }
        }
    }

    private string Settings(LvmCommand command)
    {
        var settings = new List<string>(2);
        if (!command.WritesMetadata)
        {
            settings.Add(ReadOnlySetting);
        }

        if (!_options.WaitForLocks)
        {
            settings.Add(NoWaitSetting);
        }

        return string.Join(' ', settings);
    }

    private IEnumerable<KeyValuePair<string, string>> Environment()
    {
        yield return KeyValuePair.Create("LC_ALL", "C");
        // LVM warns on stderr about every inherited descriptor; those lines would pollute error texts.
        yield return KeyValuePair.Create("LVM_SUPPRESS_FD_WARNINGS", "1");
        if (_options.LvmSystemDir is { } dir)
        {
            yield return KeyValuePair.Create("LVM_SYSTEM_DIR", dir);
        }
    }

    [LoggerMessage(EventId = 1001, Level = LogLevel.Debug, Message = "ran {Command} in {DurationMs:0.0} ms")]
    private static partial void LogRan(ILogger logger, string command, double durationMs);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Information, Message = "{Command} exited {ExitCode} after {DurationMs:0.0} ms: {Stderr}")]
    private static partial void LogFailed(ILogger logger, string command, int exitCode, double durationMs, string stderr);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Warning, Message = "{Command} timed out after {TimeoutSeconds} s and was killed")]
    private static partial void LogTimedOut(ILogger logger, string command, double timeoutSeconds);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Information, Message = "{Command} cancelled and killed")]
    private static partial void LogCancelled(ILogger logger, string command);
}
