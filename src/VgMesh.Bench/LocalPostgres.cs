using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace VgMesh.Bench;

/// <summary>
/// A throwaway PostgreSQL (Debian's <c>postgresql</c> package) on 127.0.0.1 with a free port and
/// a temporary data directory, for tests and benchmarks: the journal and the lease the cluster
/// engine uses. Runs as the <c>postgres</c> user when started as root (PostgreSQL refuses root).
/// The server can be paused and resumed (SIGSTOP/SIGCONT) to make it unreachable for a while.
/// </summary>
public sealed class LocalPostgres : IAsyncDisposable
{
    private readonly string _dir;
    private readonly string _bin;

    private LocalPostgres(string dir, string bin, int port)
    {
        _dir = dir;
        _bin = bin;
        Port = port;
    }

    public int Port { get; }

    /// <summary>Trust authentication on loopback only: the server listens on nothing else.</summary>
    public string ConnectionString => $"Host=127.0.0.1;Port={Port};Username=postgres;Database=postgres;Pooling=true;Timeout=5;Command Timeout=5";

    /// <param name="durable">Keep PostgreSQL's fsync on (benchmarks of write latency); tests run with it off.</param>
    public static async Task<LocalPostgres> StartAsync(bool durable = false, CancellationToken ct = default)
    {
        var bin = FindBin();
        var dir = Directory.CreateTempSubdirectory("vgmesh-pg-").FullName;
        var pg = new LocalPostgres(dir, bin, FreePort());
        var data = Path.Combine(dir, "data");
        Directory.CreateDirectory(data);
        if (Environment.UserName == "root")
        {
            // The directory is made by root; the server must own it.
            await RunAsync("chown", ["-R", "postgres:postgres", dir], ct).ConfigureAwait(false);
        }

        await RunAsPostgresAsync(Path.Combine(bin, "initdb"), ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"], ct).ConfigureAwait(false);
        var options = string.Create(CultureInfo.InvariantCulture,
            $"-c listen_addresses=127.0.0.1 -p {pg.Port} -c unix_socket_directories={dir} -c fsync={(durable ? "on" : "off")} -c max_connections=200");
        await RunAsPostgresAsync(Path.Combine(bin, "pg_ctl"), ["-D", data, "-l", Path.Combine(dir, "server.log"), "-w", "-t", "60", "-o", options, "start"], ct).ConfigureAwait(false);
        return pg;
    }

    /// <summary>The server's main process id, from its pid file.</summary>
    public int ServerPid => int.Parse(File.ReadLines(Path.Combine(_dir, "data", "postmaster.pid")).First(), CultureInfo.InvariantCulture);

    /// <summary>Stops every server process (SIGSTOP to the process group's members): connections hang.</summary>
    public Task PauseAsync() => SignalAllAsync("STOP");

    public Task ResumeAsync() => SignalAllAsync("CONT");

    private async Task SignalAllAsync(string signal)
    {
        // The postmaster and its backends: every process whose parent is the postmaster, and itself.
        var pids = new List<string> { ServerPid.ToString(CultureInfo.InvariantCulture) };
        pids.AddRange(Directory.EnumerateDirectories("/proc")
            .Select(Path.GetFileName)
            .Where(p => p is not null && p.All(char.IsAsciiDigit))
            .Where(p => ParentOf(p!) == ServerPid)
            .Select(p => p!));
        await RunAsync("kill", ["-" + signal, .. pids], CancellationToken.None).ConfigureAwait(false);
    }

    private static int ParentOf(string pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return int.Parse(fields[1], CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return -1;
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await ResumeAsync().ConfigureAwait(false);
            await RunAsPostgresAsync(Path.Combine(_bin, "pg_ctl"), ["-D", Path.Combine(_dir, "data"), "-m", "immediate", "-w", "stop"], CancellationToken.None).ConfigureAwait(false);
        }
        catch (InvalidOperationException)
        {
            // Already stopped; the directory still goes.
        }

        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static Task RunAsPostgresAsync(string program, IReadOnlyList<string> args, CancellationToken ct) =>
        Environment.UserName == "root"
            ? RunAsync("runuser", ["-u", "postgres", "--", program, .. args], ct)
            : RunAsync(program, args, ct);

    private static async Task RunAsync(string program, IReadOnlyList<string> args, CancellationToken ct)
    {
        var psi = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {program}");
        var stdout = p.StandardOutput.ReadToEndAsync(ct);
        var stderr = p.StandardError.ReadToEndAsync(ct);
        await p.WaitForExitAsync(ct).ConfigureAwait(false);
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', args)} exited {p.ExitCode}: {await stderr.ConfigureAwait(false)}{await stdout.ConfigureAwait(false)}");
        }
    }

    private static string FindBin()
    {
        var root = "/usr/lib/postgresql";
        var bin = Directory.Exists(root)
            ? Directory.EnumerateDirectories(root).Select(d => Path.Combine(d, "bin")).Where(d => File.Exists(Path.Combine(d, "initdb"))).OrderDescending().FirstOrDefault()
            : null;
        return bin ?? throw new InvalidOperationException("PostgreSQL's server programs are missing: install Debian's 'postgresql' package (ops/test does).");
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }
}
