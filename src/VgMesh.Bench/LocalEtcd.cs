using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace VgMesh.Bench;

/// <summary>
/// Real etcd members (Debian's etcd-server) on 127.0.0.1 with free ports and a temporary
/// directory, for tests and benchmarks. Members can be killed, restarted and paused.
/// </summary>
public sealed class LocalEtcd : IAsyncDisposable
{
    private readonly string _dir;
    private readonly (int Client, int Peer)[] _ports;
    private readonly Process?[] _processes;
    private readonly string _extraArgs;

    private LocalEtcd(int members, string extraArgs)
    {
        _dir = Directory.CreateTempSubdirectory("vgmesh-etcd-").FullName;
        _ports = Enumerable.Range(0, members).Select(_ => (FreePort(), FreePort())).ToArray();
        _processes = new Process?[members];
        _extraArgs = extraArgs;
    }

    public int Count => _ports.Length;

    public IReadOnlyList<Uri> Endpoints => _ports.Select(p => new Uri($"http://127.0.0.1:{p.Client}")).ToList();

    public Uri Endpoint(int member) => Endpoints[member];

    /// <param name="extraArgs">Extra etcd flags, e.g. a short auto-compaction for compaction tests.</param>
    public static async Task<LocalEtcd> StartAsync(int members = 1, string extraArgs = "", CancellationToken ct = default)
    {
        var etcd = new LocalEtcd(members, extraArgs);
        for (var i = 0; i < members; i++)
        {
            etcd.Launch(i, initial: true);
        }

        await etcd.WaitHealthyAsync(ct).ConfigureAwait(false);
        return etcd;
    }

    private void Launch(int i, bool initial)
    {
        var cluster = string.Join(',', _ports.Select((p, j) => $"m{j}=http://127.0.0.1:{p.Peer}"));
        var args = new List<string>
        {
            "--name", $"m{i}", "--data-dir", Path.Combine(_dir, $"m{i}"),
            "--listen-client-urls", $"http://127.0.0.1:{_ports[i].Client}",
            "--advertise-client-urls", $"http://127.0.0.1:{_ports[i].Client}",
            "--listen-peer-urls", $"http://127.0.0.1:{_ports[i].Peer}",
            "--initial-advertise-peer-urls", $"http://127.0.0.1:{_ports[i].Peer}",
            "--initial-cluster", cluster,
            "--initial-cluster-state", initial ? "new" : "existing",
            "--initial-cluster-token", Path.GetFileName(_dir),
            // Fast elections on loopback; defaults are tuned for real networks.
            "--heartbeat-interval", "50", "--election-timeout", "500",
            "--log-level", "error",
        };
        args.AddRange(_extraArgs.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        var psi = new ProcessStartInfo("etcd") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        args.ForEach(psi.ArgumentList.Add);
        var p = Process.Start(psi) ?? throw new InvalidOperationException("cannot start etcd: install Debian's etcd-server");
        var log = File.AppendText(Path.Combine(_dir, $"m{i}.log"));
        p.OutputDataReceived += (_, e) => { lock (log) { log.WriteLine(e.Data); log.Flush(); } };
        p.ErrorDataReceived += (_, e) => { lock (log) { log.WriteLine(e.Data); log.Flush(); } };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        _processes[i] = p;
    }

    public async Task WaitHealthyAsync(CancellationToken ct = default)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(1) };
        var deadline = DateTime.UtcNow.AddSeconds(30);
        foreach (var (e, i) in Endpoints.Select((e, i) => (e, i)))
        {
            if (_processes[i] is null)
            {
                continue;
            }

            while (true)
            {
                try
                {
                    var body = await http.GetStringAsync(new Uri(e, "/health"), ct).ConfigureAwait(false);
                    if (body.Contains("\"true\"", StringComparison.Ordinal))
                    {
                        break;
                    }
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
                {
                }

                if (DateTime.UtcNow > deadline)
                {
                    throw new TimeoutException($"etcd member {i} at {e} did not become healthy; see {_dir}/m{i}.log");
                }

                await Task.Delay(50, ct).ConfigureAwait(false);
            }
        }
    }

    /// <summary>The index of the member that is raft leader now.</summary>
    public async Task<int> RaftLeaderAsync(CancellationToken ct = default)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        for (var i = 0; i < Count; i++)
        {
            if (_processes[i] is null)
            {
                continue;
            }

            using var content = new StringContent("{}");
            using var r = await http.PostAsync(new Uri(Endpoint(i), "/v3/maintenance/status"), content, ct).ConfigureAwait(false);
            using var doc = System.Text.Json.JsonDocument.Parse(await r.Content.ReadAsStringAsync(ct).ConfigureAwait(false));
            if (doc.RootElement.GetProperty("header").GetProperty("member_id").GetString() == doc.RootElement.GetProperty("leader").GetString())
            {
                return i;
            }
        }

        throw new InvalidOperationException("no etcd member reports itself raft leader");
    }

    public void Kill(int i)
    {
        if (_processes[i] is { } p)
        {
            p.Kill();
            p.WaitForExit();
            p.Dispose();
            _processes[i] = null;
        }
    }

    /// <summary>Starts a killed member again with its data.</summary>
    public void Restart(int i)
    {
        if (_processes[i] is null)
        {
            Launch(i, initial: false);
        }
    }

    public void Pause(int i) => Signal(i, "STOP");

    public void Resume(int i) => Signal(i, "CONT");

    private void Signal(int i, string sig)
    {
        using var kill = Process.Start("kill", ["-" + sig, _processes[i]!.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    public async ValueTask DisposeAsync()
    {
        for (var i = 0; i < _processes.Length; i++)
        {
            if (_processes[i] is not null)
            {
                Resume(i);
                Kill(i);
            }
        }

        await Task.Yield();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }
}
