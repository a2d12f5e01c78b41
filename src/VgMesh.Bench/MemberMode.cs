using System.Globalization;
using Microsoft.Extensions.Logging;
using VgMesh.Coordination;
using VgMesh.Coordination.Etcd;

namespace VgMesh.Bench;

/// <summary>
/// A minimal agent as a separate process, so tests and benchmarks can kill -9 or SIGSTOP it: it
/// joins, campaigns, runs the operation queue with a handler that records each run, and reports
/// on stdout as one JSON object per line. Every run and every write it makes is fenced.
/// </summary>
internal static class MemberMode
{
    public static async Task<int> RunAsync(string[] args)
    {
        var o = Args.Parse(args);
        var endpoints = o["endpoints"].Split(',').Select(e => new Uri(e)).ToList();
        var cluster = o["cluster"];
        var host = o["host"];
        var ttl = TimeSpan.FromSeconds(double.Parse(o.GetValueOrDefault("ttl", "3"), CultureInfo.InvariantCulture));
        var workMs = int.Parse(o.GetValueOrDefault("work-ms", "0"), CultureInfo.InvariantCulture);
        var writeEveryMs = int.Parse(o.GetValueOrDefault("write-every-ms", "0"), CultureInfo.InvariantCulture);

        using var loggers = LoggerFactory.Create(b => b.AddSimpleConsole(c => c.SingleLine = true).SetMinimumLevel(LogLevel.Warning).AddFilter((_, _) => true));
        using var client = new EtcdClient(new EtcdOptions { Endpoints = endpoints, RequestTimeout = TimeSpan.FromSeconds(2), WatchIdleTimeout = TimeSpan.FromSeconds(5) }, loggers.CreateLogger<EtcdClient>());
        await using var node = new EtcdClusterNode(client, new ClusterOptions { Cluster = cluster, Host = host, SessionTtl = ttl }, TimeProvider.System, loggers);
        using var stop = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };

        node.Coordinator.Changed += (_, c) =>
        {
            Report($"{{\"event\":\"state\",\"state\":\"{c.State}\",\"token\":{c.FencingToken}}}");
            if (c.State == LeadershipState.Leader)
            {
                _ = Task.Run(async () =>
                {
                    try
                    {
                        var w = await node.EtcdCoordinator.FencedTxnAsync([], [RequestOp.Put(Keys.Of(node.Keys.Root + "bench/leader-write"), Keys.Of($"{host} {c.FencingToken}"))], stop.Token);
                        Report($"{{\"event\":\"fenced-write\",\"token\":{c.FencingToken},\"revision\":{w.Header.Revision}}}");
                    }
                    catch (Exception e) when (e is NotLeaderException or EtcdException or OperationCanceledException)
                    {
                        Report($"{{\"event\":\"fenced-write-refused\",\"token\":{c.FencingToken}}}");
                    }
                });
            }
        };

        await node.StartAsync(new MemberInfo(host, [], "bench", DateTimeOffset.UtcNow, ["bench"]), stop.Token);
        var processor = new OperationProcessor(node, async (op, leaderCt) =>
        {
            // Each run leaves its own key: two keys under one id would mean it ran twice. A recovered
            // operation (its leader died mid-run) first looks whether its effect is already there,
            // as the real executor re-reads LVM state.
            var runs = Keys.Of($"{node.Keys.Root}bench/runs/{op.Request.Id}/");
            if (!op.Recovered || (await client.GetPrefixAsync(runs, ct: leaderCt)).Kvs.Count == 0)
            {
                await node.EtcdCoordinator.FencedTxnAsync([], [RequestOp.Put([.. runs, .. Keys.Of(Guid.NewGuid().ToString("N"))], Keys.Of(host))], leaderCt);
            }
            if (workMs > 0)
            {
                await Task.Delay(workMs, leaderCt);
            }

            return (new OperationResult(op.Request.Id, OperationStatus.Succeeded, $"ran on {host}{(op.Recovered ? " (recovered)" : "")}", null, host, 0, DateTimeOffset.UtcNow),
                [new ClusterEvent("bench.ran", op.Request.Id, null, null, op.Request.Id, host, DateTimeOffset.UtcNow)]);
        }, TimeProvider.System, loggers.CreateLogger<OperationProcessor>());
        var processing = processor.RunAsync(stop.Token);

        var n = 0;
        while (!stop.IsCancellationRequested)
        {
            if (writeEveryMs > 0 && node.Coordinator.State == LeadershipState.Leader)
            {
                var token = node.Coordinator.FencingToken;
                try
                {
                    var r = await node.EtcdCoordinator.FencedTxnAsync([], [RequestOp.Put(Keys.Of($"{node.Keys.Root}bench/writes/{host}/{n++:D8}"), Keys.Of(token.ToString(CultureInfo.InvariantCulture)))], stop.Token);
                    Report($"{{\"event\":\"write\",\"token\":{token},\"revision\":{r.Header.Revision}}}");
                }
                catch (NotLeaderException e)
                {
                    Report($"{{\"event\":\"write-refused\",\"token\":{token},\"leader\":\"{e.CurrentLeader}\"}}");
                }
                catch (EtcdException)
                {
                }
            }

            try
            {
                await Task.Delay(writeEveryMs > 0 ? writeEveryMs : 1000, stop.Token);
            }
            catch (OperationCanceledException)
            {
            }
        }

        await processing;
        return 0;
    }

    private static readonly Lock Out = new();

    private static void Report(string json)
    {
        var ms = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        lock (Out)
        {
            Console.Out.WriteLine(json.Insert(1, $"\"ms\":{ms},"));
            Console.Out.Flush();
        }
    }
}

internal static class Args
{
    public static Dictionary<string, string> Parse(string[] args)
    {
        var d = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal))
            {
                throw new ArgumentException($"expected an option, got '{args[i]}'");
            }

            d[args[i][2..]] = args[i + 1];
        }

        return d;
    }
}
