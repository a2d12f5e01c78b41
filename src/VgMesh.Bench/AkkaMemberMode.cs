using System.Globalization;
using System.Text.Json;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using VgMesh.Cluster;
using VgMesh.Cluster.Coordinator;
using VgMesh.Cluster.Hosting;

namespace VgMesh.Bench;

/// <summary>
/// One cluster node as a process of its own, wired as vgmeshd wires its cluster part, so tests
/// and benchmarks can kill -9 it or freeze it with SIGSTOP. Its operation handler stands for
/// LVM: two "commands" per operation, each checked against the lease right before it runs and
/// recorded in a file (one JSON line each), with a pause between them.
/// </summary>
internal static class AkkaMemberMode
{
    public static async Task<int> RunAsync(string[] args)
    {
        var o = Args.Parse(args);
        TimeSpan Seconds(string name, TimeSpan fallback) => o.TryGetValue(name, out var v) ? TimeSpan.FromSeconds(double.Parse(v, CultureInfo.InvariantCulture)) : fallback;
        var defaults = new ClusterNodeOptions { Host = "-", Hostname = "-", JournalConnectionString = "-" };
        var options = defaults with
        {
            Host = o["host"],
            Hostname = o.GetValueOrDefault("hostname", "127.0.0.1"),
            Port = int.Parse(o["port"], CultureInfo.InvariantCulture),
            SeedNodes = [o["seed"]],
            JournalConnectionString = o["journal"],
            // Without certificates: plain TCP, as a process that has none would try.
            CertificateDirectory = o.GetValueOrDefault("certs"),
            AllowPlaintextRemoting = !o.ContainsKey("certs"),
            HeartbeatPause = Seconds("heartbeat-pause", defaults.HeartbeatPause),
            StableAfter = Seconds("stable-after", defaults.StableAfter),
            DownRemovalMargin = Seconds("down-removal-margin", defaults.DownRemovalMargin),
            LeaseTtl = Seconds("lease-ttl", defaults.LeaseTtl),
            LeaseHeartbeat = Seconds("lease-heartbeat", defaults.LeaseHeartbeat),
            LeaseSafetyMargin = Seconds("lease-margin", defaults.LeaseSafetyMargin),
            LeaseRetry = Seconds("lease-retry", defaults.LeaseRetry),
        };
        var handler = new CommandLogHandler(options.Host, o["commands"], int.Parse(o.GetValueOrDefault("step-ms", "0"), CultureInfo.InvariantCulture));
        using var host = new HostBuilder()
            .ConfigureServices(services =>
            {
                services.AddSingleton<IOperationHandler>(handler);
                services.AddSingleton(TimeProvider.System);
                services.AddAkka(ClusterHostingExtensions.SystemName, b => b.WithVgMeshCluster(options));
            })
            .Build();
        // Returns when the ActorSystem ends (downed by the cluster, or stopped).
        await host.RunAsync();
        return 0;
    }
}

/// <summary>One line of a member's command file.</summary>
public sealed record CommandRecord(string Host, string Op, int Step, long Generation, bool Recovered, long AtUnixMs);

internal sealed class CommandLogHandler(string host, string path, int stepMs) : IOperationHandler
{
    private readonly Lock _gate = new();

    public async Task<OperationOutcome> HandleAsync(OperationContext context, CancellationToken leaseLost)
    {
        Run(context, 1);
        if (stepMs > 0)
        {
            await Task.Delay(stepMs, leaseLost).ConfigureAwait(false);
        }

        Run(context, 2);
        return new OperationOutcome(OperationStatus.Succeeded, $"ran on {host}", null,
            [new ClusterEvent("bench.ran", context.Request.Id, null, null, context.Request.Id, host, DateTimeOffset.UtcNow)], []);
    }

    private void Run(OperationContext context, int step)
    {
        context.Lease.EnsureHeld(); // right before the "process" starts, as the LVM runner does
        var line = JsonSerializer.Serialize(new CommandRecord(host, context.Request.Id, step, context.Lease.Generation, context.Recovered, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()), BenchJson.Default.CommandRecord);
        lock (_gate)
        {
            using var f = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
            using var w = new StreamWriter(f);
            w.WriteLine(line);
            w.Flush();
            f.Flush(flushToDisk: false);
        }
    }

    public static IReadOnlyList<CommandRecord> Read(string path) =>
        File.Exists(path)
            ? [.. File.ReadAllLines(path).Where(l => l.Length > 0).Select(l => JsonSerializer.Deserialize(l, BenchJson.Default.CommandRecord)!)]
            : [];
}

[System.Text.Json.Serialization.JsonSerializable(typeof(CommandRecord))]
internal sealed partial class BenchJson : System.Text.Json.Serialization.JsonSerializerContext;
