using VgMesh.Lvm.Commands;

namespace VgMesh.Lab;

/// <summary>
/// Drives <c>ops/lab</c>: a named lab of user-mode Linux hosts sharing one SAN disk. Tests,
/// benchmarks and the demo use it; the lab's own script does the work.
/// </summary>
public sealed class Lab
{
    public Lab(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        Name = name;
    }

    public string Name { get; }

    /// <summary>The repository root: the nearest directory above this assembly that holds Cluster.sln.</summary>
    public static string RepoRoot { get; } = FindRepoRoot();

    public static string Script => Path.Combine(RepoRoot, "ops", "lab");

    /// <summary>The argv prefix that runs a command as root on <paramref name="host"/>.</summary>
    public IReadOnlyList<string> ExecPrefix(string host) => [Script, "--name", Name, "exec", host, "--"];

    /// <summary>Runner settings that send every <c>lvm</c>/<c>dmsetup</c> command to <paramref name="host"/>.</summary>
    public LvmRunnerOptions RunnerOptionsFor(string host) => new() { CommandPrefix = ExecPrefix(host) };

    /// <summary>
    /// Starts the lab; with <paramref name="iscsi"/> its LUN is an iSCSI target on two portals and
    /// every host uses it as <c>/dev/mapper/luna</c> (multipath over both), not as a disk image.
    /// </summary>
    public async Task<IReadOnlyDictionary<string, string>> UpAsync(int hosts = 3, string diskSize = "2G", bool iscsi = false, CancellationToken ct = default)
    {
        List<string> args = ["up", "--hosts", hosts.ToString(System.Globalization.CultureInfo.InvariantCulture), "--disk-size", diskSize];
        if (iscsi)
        {
            args.Add("--iscsi");
        }

        return ParseEnv(Ok(await LabAsync(args, ct).ConfigureAwait(false), "up").Stdout);
    }

    /// <summary>Cuts (<paramref name="up"/> false) or restores storage path <paramref name="path"/> (1 or 2) of an iSCSI lab's host.</summary>
    public async Task PathAsync(string host, int path, bool up, CancellationToken ct = default)
    {
        var verb = up ? "path-up" : "path-down";
        Ok(await LabAsync([verb, host, path.ToString(System.Globalization.CultureInfo.InvariantCulture)], ct).ConfigureAwait(false), $"{verb} {host} {path}");
    }

    public async Task DownAsync(CancellationToken ct = default) => Ok(await LabAsync(["down"], ct).ConfigureAwait(false), "down");

    public async Task<IReadOnlyDictionary<string, string>> EnvAsync(CancellationToken ct = default) =>
        ParseEnv(Ok(await LabAsync(["env"], ct).ConfigureAwait(false), "env").Stdout);

    /// <summary>
    /// The longest a command on a host may take. The lab's hosts are reached over dropbear, and a
    /// dropbear session in a lab host has been seen (2026-12-05 and 2026-12-06, a 130 kB
    /// <c>curl</c> of the agent's metrics) never to end after its command had exited and been
    /// reaped, with nothing left to send (dropbear 2022.83, Debian 12's, has known races around a
    /// channel's close and exit status: mkj/dropbear issues 173 and 220). <c>ops/lab exec</c> and
    /// <c>container</c> now end such a session 10 s after the command's exit status appears (the
    /// host writes it to its directory); this bound is for a command that itself hangs.
    /// </summary>
    public static readonly TimeSpan ExecLimit = TimeSpan.FromMinutes(15);

    /// <summary>Runs a command on a host; returns however it ended (a <see cref="LabException"/> past <see cref="ExecLimit"/>).</summary>
    public Task<ProcessResult> ExecAsync(string host, IReadOnlyList<string> command, CancellationToken ct = default) =>
        BoundedAsync(["exec", host, "--", .. command], ExecLimit, ct);

    /// <summary>Runs a command as root inside a container of a host (<c>ops/lab up --containers</c>); returns however it ended.</summary>
    public Task<ProcessResult> ContainerExecAsync(string host, string container, IReadOnlyList<string> command, CancellationToken ct = default) =>
        BoundedAsync(["container", host, container, "--", .. command], ExecLimit, ct);

    /// <summary>
    /// Runs a command that only reads (a metrics scrape, a status) and returns its stdout: a try
    /// whose session has not ended within <paramref name="limit"/> (one minute by default) is
    /// killed and the command run again, twice at most, so a stuck session costs a minute rather
    /// than the run.
    /// </summary>
    public async Task<string> ReadAsync(string host, IReadOnlyList<string> command, TimeSpan? limit = null, CancellationToken ct = default)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return Ok(await BoundedAsync(["exec", host, "--", .. command], limit ?? TimeSpan.FromMinutes(1), ct).ConfigureAwait(false), $"exec {host}").Stdout;
            }
            catch (LabTimeoutException) when (attempt < 3)
            {
                // Run it again: it only reads.
            }
        }
    }

    private async Task<ProcessResult> BoundedAsync(IReadOnlyList<string> args, TimeSpan limit, CancellationToken ct)
    {
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(ct);
        bounded.CancelAfter(limit);
        try
        {
            return await LabAsync(args, bounded.Token).ConfigureAwait(false);
        }
        catch (ChildProcessCancelledException e) when (!ct.IsCancellationRequested)
        {
            throw new LabTimeoutException($"ops/lab {string.Join(' ', args)} did not end within {limit.TotalSeconds:0} s and was killed (a lab host's ssh session that never ends, or a command that hangs)", e.Partial);
        }
    }

    /// <summary>Runs a command on a host and returns its stdout; throws with its stderr when it fails.</summary>
    public async Task<string> ExecOkAsync(string host, IReadOnlyList<string> command, CancellationToken ct = default) =>
        Ok(await ExecAsync(host, command, ct).ConfigureAwait(false), $"exec {host}").Stdout;

    public async Task FaultAsync(LabFault fault, string host, CancellationToken ct = default) =>
        Ok(await LabAsync([fault.ToString().ToLowerInvariant(), host], ct).ConfigureAwait(false), $"{fault} {host}");

    public async Task<string> StatusAsync(CancellationToken ct = default) => Ok(await LabAsync(["status"], ct).ConfigureAwait(false), "status").Stdout;

    private Task<ProcessResult> LabAsync(IReadOnlyList<string> args, CancellationToken ct) => RunAsync([Script, "--name", Name, .. args], ct);

    private static ProcessResult Ok(ProcessResult r, string what) =>
        r.Succeeded ? r : throw new LabException($"ops/lab {what} failed with exit code {r.ExitCode}: {r.Stderr.Trim()}", r);

    private static Dictionary<string, string> ParseEnv(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split('=', 2))
            .Where(p => p.Length == 2)
            .ToDictionary(p => p[0], p => p[1]);

    /// <summary>Runs a program from an argument array (no shell) and keeps exit code, output and duration together.</summary>
    public static Task<ProcessResult> RunAsync(IReadOnlyList<string> argv, CancellationToken ct = default) =>
        ChildProcess.RunAsync(argv, null, null, TimeProvider.System, ct);

    private static string FindRepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "Cluster.sln")))
            {
                return d.FullName;
            }
        }

        return Environment.GetEnvironmentVariable("VGMESH_REPO") ??
            throw new LabException("cannot find the repository root (no Cluster.sln above the test binaries); set VGMESH_REPO", null);
    }
}

/// <summary>The faults <c>ops/lab</c> can inject.</summary>
public enum LabFault
{
    Crash,
    Boot,
    Pause,
    Resume,
    Partition,
    Heal,
}

public class LabException(string message, ProcessResult? result) : Exception(message)
{
    public ProcessResult? Result { get; } = result;
}

/// <summary>A command on a lab host did not end within its bound and was killed.</summary>
public sealed class LabTimeoutException(string message, ProcessResult? result) : LabException(message, result);
