using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging.Abstractions;
using VgMesh.Coordination;
using VgMesh.Coordination.Etcd;

namespace VgMesh.Bench;

/// <summary>
/// <c>ops/bench coordination</c>: failover time with real agent processes killed with SIGKILL,
/// event fan-out latency to 3 and 50 subscribers, and the operation queue's round trip, all
/// against a real etcd on loopback. Prints one JSON object per figure.
/// </summary>
internal static class CoordinationBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        var o = Args.Parse(args);
        var trials = int.Parse(o.GetValueOrDefault("trials", "20"), CultureInfo.InvariantCulture);
        var ttl = double.Parse(o.GetValueOrDefault("ttl", "3"), CultureInfo.InvariantCulture);
        await using var etcd = await LocalEtcd.StartAsync();

        var failover = await FailoverAsync(etcd, trials, ttl);
        Figures.Print($"failover_leader_killed_to_fenced_write_p50_ttl_{ttl}s", Figures.Pct(failover, 50), "s", $"<= {ttl + 2}");
        Figures.Print($"failover_leader_killed_to_fenced_write_p99_ttl_{ttl}s", Figures.Pct(failover, 99), "s", $"<= {ttl + 2}");

        foreach (var subs in new[] { 3, 50 })
        {
            var lat = await FanOutAsync(etcd, subs, events: 100);
            Figures.Print($"event_fanout_{subs}_subscribers_p50", Figures.Pct(lat, 50), "ms", "<= 50 (p99)");
            Figures.Print($"event_fanout_{subs}_subscribers_p99", Figures.Pct(lat, 99), "ms", "<= 50");
        }

        var rtt = await QueueRoundTripAsync(etcd, 200);
        Figures.Print("operation_queue_round_trip_p50", Figures.Pct(rtt, 50), "ms", "<= 10");
        Figures.Print("operation_queue_round_trip_p99", Figures.Pct(rtt, 99), "ms", null);
        return 0;
    }

    private static async Task<List<double>> FailoverAsync(LocalEtcd etcd, int trials, double ttl)
    {
        var cluster = "bench-failover";
        var members = Enumerable.Range(1, 3).Select(i => MemberProcess.Start(etcd.Endpoints, cluster, $"m{i}", ttl)).ToList();
        var next = 4;
        var times = new List<double>();
        long token = 0;
        try
        {
            for (var t = 0; t < trials; t++)
            {
                var leader = await Figures.WaitAsync(() => members.FirstOrDefault(m => LastWriteToken(m) > token), TimeSpan.FromSeconds(60));
                token = LastWriteToken(leader);
                // Let the standbys settle into their campaigns and the leader renew a few times.
                await Task.Delay(TimeSpan.FromSeconds(1 + Random.Shared.NextDouble()));
                var killedMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
                leader.Kill();
                members.Remove(leader);
                leader.Dispose();
                var successor = await Figures.WaitAsync(() => members.FirstOrDefault(m => LastWriteToken(m) > token), TimeSpan.FromSeconds(60));
                var wroteMs = successor.Find("fenced-write").Last().GetProperty("ms").GetInt64();
                times.Add((wroteMs - killedMs) / 1000.0);
                members.Add(MemberProcess.Start(etcd.Endpoints, cluster, $"m{next++}", ttl));
            }
        }
        finally
        {
            members.ForEach(m => m.Dispose());
        }

        return times;
    }

    private static long LastWriteToken(MemberProcess m) =>
        m.Find("fenced-write").LastOrDefault() is { ValueKind: System.Text.Json.JsonValueKind.Object } w ? w.GetProperty("token").GetInt64() : 0;

    private static async Task<List<double>> FanOutAsync(LocalEtcd etcd, int subscribers, int events)
    {
        var cluster = $"bench-fanout-{subscribers}";
        var clients = new List<EtcdClient>();
        var nodes = new List<EtcdClusterNode>();
        try
        {
            EtcdClusterNode NewNode(string host)
            {
                var c = new EtcdClient(new EtcdOptions { Endpoints = etcd.Endpoints }, NullLogger<EtcdClient>.Instance);
                clients.Add(c);
                var n = new EtcdClusterNode(c, new ClusterOptions { Cluster = cluster, Host = host }, TimeProvider.System, NullLoggerFactory.Instance);
                nodes.Add(n);
                return n;
            }

            var leader = NewNode("leader");
            await leader.StartAsync(new MemberInfo("leader", [], "bench", DateTimeOffset.UtcNow, []));
            await leader.Coordinator.WaitForLeadershipAsync();
            var sent = new long[events];
            var latencies = new List<double>();
            using var stop = new CancellationTokenSource();
            var start = (await clients[0].GetAsync(Keys.Of("/"))).Header.Revision;
            var subs = Enumerable.Range(0, subscribers).Select(i =>
            {
                // Each subscriber has its own client, as each host would.
                var c = new EtcdClient(new EtcdOptions { Endpoints = etcd.Endpoints }, NullLogger<EtcdClient>.Instance);
                clients.Add(c);
                var keys = new ClusterKeys(cluster);
                var coordinator = new EtcdCoordinator(c, keys, $"s{i}", NullLogger.Instance);
                var log = new EtcdEventLog(c, coordinator, keys, $"s{i}", TimeProvider.System);
                return Task.Run(async () =>
                {
                    var seen = 0;
                    await foreach (var b in log.SubscribeAsync(start, stop.Token))
                    {
                        var now = Stopwatch.GetTimestamp();
                        foreach (var e in b.Events)
                        {
                            var idx = (int)e.VgSeqno!.Value;
                            lock (latencies)
                            {
                                latencies.Add(Stopwatch.GetElapsedTime(Volatile.Read(ref sent[idx]), now).TotalMilliseconds);
                            }

                            seen++;
                        }

                        if (seen >= events)
                        {
                            return;
                        }
                    }
                });
            }).ToList();
            await Task.Delay(TimeSpan.FromSeconds(2)); // every watch open
            for (var i = 0; i < events; i++)
            {
                Volatile.Write(ref sent[i], Stopwatch.GetTimestamp());
                await leader.Events.AppendAsync([new ClusterEvent("bench", "x", null, i, null, "leader", DateTimeOffset.UtcNow)]);
                await Task.Delay(20);
            }

            await Task.WhenAll(subs).WaitAsync(TimeSpan.FromSeconds(60));
            await stop.CancelAsync();
            return latencies;
        }
        finally
        {
            foreach (var n in nodes)
            {
                await n.DisposeAsync();
            }

            clients.ForEach(c => c.Dispose());
        }
    }

    private static async Task<List<double>> QueueRoundTripAsync(LocalEtcd etcd, int ops)
    {
        using var lc = new EtcdClient(new EtcdOptions { Endpoints = etcd.Endpoints }, NullLogger<EtcdClient>.Instance);
        await using var leader = new EtcdClusterNode(lc, new ClusterOptions { Cluster = "bench-queue", Host = "leader" }, TimeProvider.System, NullLoggerFactory.Instance);
        await leader.StartAsync(new MemberInfo("leader", [], "bench", DateTimeOffset.UtcNow, []));
        using var stop = new CancellationTokenSource();
        var processing = new OperationProcessor(leader, (op, _) => Task.FromResult<OperationOutcome>(
            (new OperationResult(op.Request.Id, OperationStatus.Succeeded, "", null, "leader", 0, DateTimeOffset.UtcNow), [])), TimeProvider.System, NullLogger<OperationProcessor>.Instance).RunAsync(stop.Token);
        using var sc = new EtcdClient(new EtcdOptions { Endpoints = etcd.Endpoints }, NullLogger<EtcdClient>.Instance);
        await using var submitter = new EtcdClusterNode(sc, new ClusterOptions { Cluster = "bench-queue", Host = "submitter" }, TimeProvider.System, NullLoggerFactory.Instance);
        await submitter.StartAsync(new MemberInfo("submitter", [], "bench", DateTimeOffset.UtcNow, []));
        await leader.Coordinator.WaitForLeadershipAsync();
        var times = new List<double>();
        for (var i = 0; i < ops + 20; i++)
        {
            var id = OperationIds.New();
            var t0 = Stopwatch.GetTimestamp();
            await submitter.Operations.SubmitAsync(new OperationRequest(id, "noop", "{}", "submitter"));
            await submitter.Operations.WaitAsync(id, TimeSpan.FromSeconds(30));
            if (i >= 20)
            {
                times.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds); // the first 20 warm up
            }
        }

        await stop.CancelAsync();
        await processing;
        return times;
    }
}
