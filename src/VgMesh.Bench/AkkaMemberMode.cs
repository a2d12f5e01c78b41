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
        double Seconds(string name, double fallback) => double.Parse(o.GetValueOrDefault(name, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);
        var options = new ClusterNodeOptions
        {
            Host = o["host"],
            Hostname = "127.0.0.1",
            Port = int.Parse(o["port"], CultureInfo.InvariantCulture),
            SeedNodes = [o["seed"]],
            JournalConnectionString = o["journal"],
            CertificateDirectory = o["certs"],
            HeartbeatPause = TimeSpan.FromSeconds(Seconds("heartbeat-pause", 2)),
            StableAfter = TimeSpan.FromSeconds(Seconds("stable-after", 3)),
            DownRemovalMargin = TimeSpan.FromSeconds(Seconds("down-removal-margin", 1)),
            LeaseTtl = TimeSpan.FromSeconds(Seconds("lease-ttl", 4)),
            LeaseHeartbeat = TimeSpan.FromSeconds(Seconds("lease-heartbeat", 0.5)),
            LeaseSafetyMargin = TimeSpan.FromSeconds(Seconds("lease-margin", 1.5)),
            LeaseRetry = TimeSpan.FromSeconds(Seconds("lease-retry", 0.3)),
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
