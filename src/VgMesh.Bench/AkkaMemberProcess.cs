using System.Diagnostics;
using System.Globalization;

namespace VgMesh.Bench;

/// <summary>A <c>vgmesh-bench akka-member</c> node in its own process: killable with SIGKILL, freezable with SIGSTOP.</summary>
public sealed class AkkaMemberProcess : IDisposable
{
    private readonly Process _process;

    private AkkaMemberProcess(Process process, string host, int port, string commands, string log)
    {
        _process = process;
        Host = host;
        Port = port;
        CommandsPath = commands;
        LogPath = log;
    }

    public string Host { get; }

    public int Port { get; }

    public string CommandsPath { get; }

    public string LogPath { get; }

    public bool HasExited => _process.HasExited;

    public IReadOnlyList<CommandRecord> Commands => CommandLogHandler.Read(CommandsPath);

    /// <param name="directory">Where its command file and log go.</param>
    /// <param name="certificates">Its certificate directory; null: plain TCP, no certificate at all.</param>
    /// <param name="launcher">A command the process runs under (for example entering a network namespace); it must exec its arguments, so the process is the node itself.</param>
    /// <param name="hostname">The address it binds and advertises.</param>
    /// <param name="assembly">The <c>vgmesh-bench.dll</c> to run: by default this one, which works where the caller's output holds its dependencies (not beside an ASP.NET project's, whose hosting libraries come from the shared framework: run the one in the bench's own output there).</param>
    public static AkkaMemberProcess Start(string directory, string host, int port, string seed, string journal, string? certificates, int stepMs = 0, IReadOnlyDictionary<string, string>? timings = null,
        IReadOnlyList<string>? launcher = null, string hostname = "127.0.0.1", string? assembly = null)
    {
        var commands = Path.Combine(directory, host + ".commands");
        var log = Path.Combine(directory, host + ".log");
        var args = new List<string>
        {
            assembly ?? typeof(AkkaMemberProcess).Assembly.Location, "akka-member", "--host", host, "--port", port.ToString(CultureInfo.InvariantCulture),
            "--seed", seed, "--journal", journal, "--commands", commands, "--step-ms", stepMs.ToString(CultureInfo.InvariantCulture), "--hostname", hostname,
        };
        if (certificates is not null)
        {
            args.AddRange(["--certs", certificates]);
        }

        args.Insert(0, "dotnet");
        args.InsertRange(0, launcher ?? []);
        foreach (var (k, v) in timings ?? new Dictionary<string, string>())
        {
            args.AddRange(["--" + k, v]);
        }

        // Output to a file through the shell's redirection would need a shell string; a pipe we
        // drain into the file instead keeps the argument array.
        var psi = new ProcessStartInfo(args[0]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        args.Skip(1).ToList().ForEach(psi.ArgumentList.Add);
        var p = Process.Start(psi) ?? throw new InvalidOperationException("cannot start dotnet");
        var writer = new StreamWriter(new FileStream(log, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
        p.OutputDataReceived += (_, e) => { lock (writer) { writer.WriteLine(e.Data); } };
        p.ErrorDataReceived += (_, e) => { lock (writer) { writer.WriteLine(e.Data); } };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return new AkkaMemberProcess(p, host, port, commands, log);
    }

    public void Kill() => ProcessControl.Kill(_process);

    public void Pause() => ProcessControl.Signal(_process, "STOP");

    public void Resume() => ProcessControl.Signal(_process, "CONT");

    public void Dispose() => ProcessControl.End(_process);
}
