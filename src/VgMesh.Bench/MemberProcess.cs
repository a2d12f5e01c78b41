using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace VgMesh.Bench;

/// <summary>A <c>vgmesh-bench member</c> agent in its own process: killable with SIGKILL, pausable with SIGSTOP.</summary>
public sealed class MemberProcess : IDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<JsonElement> _reports = new();

    private MemberProcess(Process process, string host)
    {
        _process = process;
        Host = host;
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is { Length: > 0 } line && line[0] == '{')
            {
                _reports.Enqueue(JsonDocument.Parse(line).RootElement.Clone());
            }
        };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public string Host { get; }

    public int Pid => _process.Id;

    public IReadOnlyList<JsonElement> Reports => _reports.ToArray();

    public static MemberProcess Start(IEnumerable<Uri> endpoints, string cluster, string host, double ttlSeconds = 3, int workMs = 0, int writeEveryMs = 0)
    {
        var dll = typeof(MemberProcess).Assembly.Location;
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[]
        {
            dll, "member", "--endpoints", string.Join(',', endpoints), "--cluster", cluster, "--host", host,
            "--ttl", ttlSeconds.ToString(CultureInfo.InvariantCulture), "--work-ms", workMs.ToString(CultureInfo.InvariantCulture),
            "--write-every-ms", writeEveryMs.ToString(CultureInfo.InvariantCulture),
        })
        {
            psi.ArgumentList.Add(a);
        }

        return new MemberProcess(Process.Start(psi) ?? throw new InvalidOperationException("cannot start dotnet"), host);
    }

    /// <summary>When (unix ms) this member last reported <paramref name="evt"/>, optionally with a given state.</summary>
    public IEnumerable<JsonElement> Find(string evt, string? state = null) =>
        Reports.Where(r => r.GetProperty("event").GetString() == evt && (state is null || r.GetProperty("state").GetString() == state));

    public bool IsLeader => Find("state").LastOrDefault() is { ValueKind: JsonValueKind.Object } last && last.GetProperty("state").GetString() == "Leader";

    public void Kill() => ProcessControl.Kill(_process);

    public void Pause() => ProcessControl.Signal(_process, "STOP");

    public void Resume() => ProcessControl.Signal(_process, "CONT");

    public void Dispose() => ProcessControl.End(_process);
}
