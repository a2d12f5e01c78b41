using System.Globalization;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Akka.Actor;
using Npgsql;
using VgMesh.Security;

namespace VgMesh.Bench;

/// <summary>
/// <c>ops/bench coordination</c>: the Akka engine's coordinator failover. Three node processes
/// (<c>vgmesh-bench akka-member</c>, mutual TLS, the journal and lease in a real PostgreSQL on
/// loopback); each trial kills the coordinator's process with SIGKILL and measures until the next
/// coordinator's first fenced journal write (its <c>CoordinatorStarted</c>, written under the new
/// lease generation), then starts a replacement node. Each phase is read from the successor's
/// log: unreachable, downed, lease acquisition, coordinator started.
/// </summary>
internal static class ClusterBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        var o = Args.Parse(args);
        var trials = int.Parse(o.GetValueOrDefault("trials", "20"), CultureInfo.InvariantCulture);
        // The agent's own defaults unless overridden here (each passed through to the nodes).
        string[] settable = ["heartbeat-pause", "stable-after", "down-removal-margin", "lease-ttl", "lease-heartbeat", "lease-margin", "lease-retry"];
        var timings = settable.Where(o.ContainsKey).ToDictionary(k => k, k => o[k], StringComparer.Ordinal);
        var defaults = new VgMesh.Cluster.Hosting.ClusterNodeOptions { Host = "-", Hostname = "-", JournalConnectionString = "-" };
        await using var pg = await LocalPostgres.StartAsync();
        var dir = Directory.CreateTempSubdirectory("vgmesh-bench-cluster-").FullName;
        var times = new List<double>();
        var phases = new Dictionary<string, List<double>>(StringComparer.Ordinal);
        var members = new List<AkkaMemberProcess>();
        try
        {
            using var ca = ClusterCertificates.CreateAuthority("bench", TimeProvider.System);
            await using var db = NpgsqlDataSource.Create(pg.ConnectionString);
            var next = 1;
            AkkaMemberProcess Start(string seed)
            {
                var host = $"m{next++}";
                var port = FreePorts.Next();
                var m = AkkaMemberProcess.Start(dir, host, port, seed == "" ? $"127.0.0.1:{port}" : seed, pg.ConnectionString, NodeCertificates(dir, ca, host), 0, timings);
                members.Add(m);
                return m;
            }

            var first = Start("");
            await Task.Delay(3000);
            var seedAddress = $"127.0.0.1:{first.Port}";
            Start(seedAddress);
            Start(seedAddress);

            var last = await Figures.WaitAsync(() => LastStart(db).Result, TimeSpan.FromSeconds(120));
            for (var t = 0; t < trials; t++)
            {
                // Let every member be up and the lease renew a few times before the kill.
                await Task.Delay(TimeSpan.FromSeconds(4 + Random.Shared.NextDouble()));
                var holder = members.Single(m => m.Host == last.Host);
                var killed = DateTimeOffset.UtcNow;
                holder.Kill();
                members.Remove(holder);
                var previous = last.Generation;
                last = await Figures.WaitAsync(() => LastStart(db).Result is { } s && s.Generation > previous ? s : null, TimeSpan.FromSeconds(120));
                var seconds = (last.At - killed).TotalSeconds;
                times.Add(seconds);
                var successor = members.Single(m => m.Host == last.Host);
                foreach (var (phase, at) in Phases(successor.LogPath, killed, holder.Port))
                {
                    if (!phases.TryGetValue(phase, out var list))
                    {
                        phases[phase] = list = [];
                    }

                    list.Add((at - killed).TotalSeconds);
                }

                Console.Error.WriteLine($"trial {t + 1}: {holder.Host} killed, {successor.Host} coordinates after {seconds:0.000} s (generation {last.Generation})");
                // The seed may be the one just killed: a replacement joins through a live member.
                Start($"127.0.0.1:{members[0].Port}");
            }
        }
        finally
        {
            members.ForEach(m => m.Dispose());
        }

        var t0 = $"heartbeat-pause {defaults.HeartbeatPause.TotalSeconds}s, stable-after {defaults.StableAfter.TotalSeconds}s, down-removal-margin {defaults.DownRemovalMargin.TotalSeconds}s, lease-ttl {defaults.LeaseTtl.TotalSeconds}s, lease-heartbeat {defaults.LeaseHeartbeat.TotalSeconds}s, lease-margin {defaults.LeaseSafetyMargin.TotalSeconds}s (defaults), overridden: {string.Join(", ", timings.Select(kv => $"{kv.Key} {kv.Value}s"))}";
        Figures.Print("singleton_failover_killed_to_fenced_write_p50", Figures.Pct(times, 50), "s", "<= 10 (p99)");
        Figures.Print("singleton_failover_killed_to_fenced_write_p99", Figures.Pct(times, 99), "s", "<= 10");
        foreach (var (phase, list) in phases.OrderBy(p => Figures.Pct(p.Value, 50)))
        {
            Figures.Print($"singleton_failover_phase_{phase}_p50", Figures.Pct(list, 50), "s", null);
        }

        Console.Error.WriteLine($"timings: {t0}; {times.Count} trials");

        await using var durable = await LocalPostgres.StartAsync(durable: true);
        foreach (var subs in new[] { 3, 50 })
        {
            var lat = await FanOutAsync(durable, dir, subs, events: 100);
            Figures.Print($"event_fanout_{subs}_subscribers_p50", Figures.Pct(lat, 50), "ms", "<= 20 (p99)");
            Figures.Print($"event_fanout_{subs}_subscribers_p99", Figures.Pct(lat, 99), "ms", "<= 20");
        }

        var rtt = await RoundTripAsync(durable, dir, 200);
        Figures.Print("operation_queue_round_trip_p50", Figures.Pct(rtt, 50), "ms", "<= 5");
        Figures.Print("operation_queue_round_trip_p99", Figures.Pct(rtt, 99), "ms", null);
        try
        {
            Directory.Delete(dir, recursive: true);
        }
        catch (IOException)
        {
        }

        return 0;
    }

    private static string NodeCertificates(string dir, X509Certificate2 ca, string host)
    {
        var d = Path.Combine(dir, host + "-certs-" + Guid.NewGuid().ToString("N")[..6]);
        Directory.CreateDirectory(d);
        File.WriteAllText(Path.Combine(d, ClusterCertificates.CaCertificateFile), ca.ExportCertificatePem());
        using var node = ClusterCertificates.IssueNode(ca, host, ["127.0.0.1"], TimeProvider.System);
        ClusterCertificates.Save(node, Path.Combine(d, ClusterCertificates.NodeCertificateFile), Path.Combine(d, ClusterCertificates.NodeKeyFile));
        return d;
    }

    private static async Task<List<LocalClusterNode<NoopHandler>>> StartNodesAsync(string journal, string dir, int count)
    {
        using var ca = ClusterCertificates.CreateAuthority("bench", TimeProvider.System);
        var nodes = new List<LocalClusterNode<NoopHandler>>();
        var seed = FreePorts.Next();
        for (var i = 0; i < count; i++)
        {
            var port = i == 0 ? seed : FreePorts.Next();
            nodes.Add(await LocalCluster.StartAsync(LocalCluster.Options($"n{i + 1}", port, seed, journal, NodeCertificates(dir, ca, $"n{i + 1}")), new NoopHandler(), "WARNING"));
        }

        await Figures.WaitAsync(() => nodes.All(n => n.Cluster.State.Members.Count(m => m.Status == Akka.Cluster.MemberStatus.Up) == count) ? nodes : null, TimeSpan.FromSeconds(60));
        return nodes;
    }

    /// <summary>One publisher on the first node, subscribers spread over three nodes; latency from just before Publish to the subscriber's receipt.</summary>
    private static async Task<List<double>> FanOutAsync(LocalPostgres pg, string dir, int subscribers, int events)
    {
        var nodes = await StartNodesAsync(pg.ConnectionString, dir, 3);
        try
        {
            var latencies = new System.Collections.Concurrent.ConcurrentBag<double>();
            const string topic = "bench.fanout";
            for (var i = 0; i < subscribers; i++)
            {
                var system = nodes[i % nodes.Count].System;
                var mediator = Akka.Cluster.Tools.PublishSubscribe.DistributedPubSub.Get(system).Mediator;
                system.ActorOf(Akka.Actor.Props.Create(() => new FanOutSubscriber(mediator, topic, latencies)));
            }

            // Subscriptions travel by gossip (every second); three rounds reach every node.
            await Task.Delay(TimeSpan.FromSeconds(3));
            var publisher = Akka.Cluster.Tools.PublishSubscribe.DistributedPubSub.Get(nodes[0].System).Mediator;
            for (var e = 1; e <= events; e++)
            {
                var ev = new VgMesh.Cluster.ClusterEvent("bench.fanout", "bench", null, null, null, "n1", DateTimeOffset.UtcNow);
                publisher.Tell(new Akka.Cluster.Tools.PublishSubscribe.Publish(topic, new VgMesh.Cluster.Coordinator.EventsCommitted(e, [new VgMesh.Cluster.SequencedEvent(e, 1, ev)])));
                await Task.Delay(20);
            }

            await Figures.WaitAsync(() => latencies.Count >= subscribers * events ? latencies : null, TimeSpan.FromSeconds(30));
            return [.. latencies];
        }
        finally
        {
            foreach (var n in nodes)
            {
                await n.DisposeAsync();
            }
        }
    }

    /// <summary>Submit and wait for the result, one at a time, through the singleton (a one-node cluster) with a handler that does nothing; 20 warm-up operations not counted.</summary>
    private static async Task<List<double>> RoundTripAsync(LocalPostgres pg, string dir, int count)
    {
        await using var db = NpgsqlDataSource.Create(pg.ConnectionString);
        await using (var cmd = db.CreateCommand("CREATE DATABASE roundtrip"))
        {
            await cmd.ExecuteNonQueryAsync();
        }

        var nodes = await StartNodesAsync(new NpgsqlConnectionStringBuilder(pg.ConnectionString) { Database = "roundtrip" }.ConnectionString, dir, 1);
        try
        {
            var client = nodes[0].Client;
            var times = new List<double>();
            for (var i = 0; i < count + 20; i++)
            {
                var started = System.Diagnostics.Stopwatch.GetTimestamp();
                var answer = await client.SubmitAsync(new VgMesh.Cluster.OperationRequest($"rtt-{i}", "bench.noop", "{}", "bench"), TimeSpan.FromSeconds(30), default);
                if (answer is not VgMesh.Cluster.Coordinator.SubmitAnswer.Finished)
                {
                    throw new InvalidOperationException($"round trip {i}: {answer}");
                }

                if (i >= 20)
                {
                    times.Add(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                }
            }

            return times;
        }
        finally
        {
            foreach (var n in nodes)
            {
                await n.DisposeAsync();
            }
        }
    }

    private sealed record Started(string Host, long Generation, DateTimeOffset At);

    /// <summary>The newest <c>CoordinatorStarted</c> in the journal (vgmesh's serializer writes JSON).</summary>
    private static async Task<Started?> LastStart(NpgsqlDataSource db)
    {
        try
        {
            await using var cmd = db.CreateCommand("SELECT message FROM journal WHERE persistence_id = 'vgmesh-coordinator' AND manifest = 'CoordinatorStarted.v1' ORDER BY sequence_number DESC LIMIT 1");
            if (await cmd.ExecuteScalarAsync() is not byte[] bytes)
            {
                return null;
            }

            var e = JsonDocument.Parse(bytes).RootElement;
            return new Started(e.GetProperty("host").GetString()!, e.GetProperty("generation").GetInt64(), e.GetProperty("at").GetDateTimeOffset());
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UndefinedTable)
        {
            return null;
        }
    }

    /// <summary>When the successor saw each step, from its log's UTC timestamps.</summary>
    private static IEnumerable<(string Phase, DateTimeOffset At)> Phases(string log, DateTimeOffset after, int killedPort)
    {
        (string Phase, string Text)[] marks =
        [
            ("unreachable", "as UNREACHABLE"),
            ("downed", "SBR took decision"),
            ("removed", $"Leader is removing unreachable node [akka.ssl.tcp://vgmesh@127.0.0.1:{killedPort}]"),
            ("lease_acquire_started", "Trying to acquire lease before starting singleton"),
            ("lease_acquired", "Acquire lease result True"),
        ];
        var lines = File.ReadAllLines(log);
        foreach (var (phase, text) in marks)
        {
            foreach (var line in lines)
            {
                if (line.Contains(text, StringComparison.Ordinal) && Stamp(line) is { } at && at >= after)
                {
                    yield return (phase, at);
                    break;
                }
            }
        }
    }

    private static DateTimeOffset? Stamp(string line)
    {
        // [INFO][12/01/2026 20:34:02.797Z][Thread ...
        var i = line.IndexOf("][", StringComparison.Ordinal);
        var j = i < 0 ? -1 : line.IndexOf("Z]", i, StringComparison.Ordinal);
        return i >= 0 && j > i && DateTimeOffset.TryParseExact(line[(i + 2)..j], "MM/dd/yyyy HH:mm:ss.fff", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t) ? t : null;
    }
}

/// <summary>A coordinator handler that does nothing: what is left is the queue's own cost.</summary>
internal sealed class NoopHandler : VgMesh.Cluster.Coordinator.IOperationHandler
{
    public Task<VgMesh.Cluster.Coordinator.OperationOutcome> HandleAsync(VgMesh.Cluster.Coordinator.OperationContext context, CancellationToken leaseLost) =>
        Task.FromResult(new VgMesh.Cluster.Coordinator.OperationOutcome(VgMesh.Cluster.OperationStatus.Succeeded, "noop", null, [], []));
}

/// <summary>Subscribes to a topic and records each event's age on arrival, in milliseconds.</summary>
internal sealed class FanOutSubscriber : Akka.Actor.ReceiveActor
{
    public FanOutSubscriber(Akka.Actor.IActorRef mediator, string topic, System.Collections.Concurrent.ConcurrentBag<double> latencies)
    {
        mediator.Tell(new Akka.Cluster.Tools.PublishSubscribe.Subscribe(topic, Self));
        Receive<Akka.Cluster.Tools.PublishSubscribe.SubscribeAck>(_ => { });
        Receive<VgMesh.Cluster.Coordinator.EventsCommitted>(e => latencies.Add((DateTimeOffset.UtcNow - e.Events[0].Event.Time).TotalMilliseconds));
    }
}
