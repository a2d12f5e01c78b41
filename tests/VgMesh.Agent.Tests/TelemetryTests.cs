using System.Net;
using System.Net.Sockets;
using System.Text;
using VgMesh.Agent.Telemetry;
using VgMesh.Metrics;

namespace VgMesh.Agent.Tests;

public sealed class TelemetryTests : IDisposable
{
    private readonly string _state = Directory.CreateTempSubdirectory("vgmesh-telemetry").FullName;

    public void Dispose() => Directory.Delete(_state, recursive: true);

    [Fact]
    public void Scrape_HasEveryFamilyTheDashboardNeeds_BeforeAnyEvent()
    {
        var options = new AgentOptions { VolumeGroup = "san", StateDir = _state };
        using var reader = new PrometheusMetricReader();
        using var provider = Telemetry.Telemetry.BuildMeterProvider(options, reader);
        using var metrics = new AgentMetrics(new FencedSet(options));
        metrics.LvmCommand("lvm", "lvs", ok: true, TimeSpan.FromMilliseconds(300));
        var text = reader.Scrape(TimeSpan.FromSeconds(5));
        foreach (var family in new[]
        {
            "vgmesh_reconcile_passes_total{result=\"failed\"} 0", "vgmesh_reconcile_repaired_total{kind=\"refresh\"} 0", "vgmesh_fenced_lvs 0",
            "vgmesh_leadership_state{state=\"follower\"} 1", "vgmesh_coordinator_lease_state{state=\"none\"} 1", "vgmesh_cluster_members{status=\"unreachable\"} 0", "vgmesh_lvm_command_duration_seconds_bucket{command=\"lvs\",result=\"ok\",tool=\"lvm\",le=\"0.5\"} 1",
        })
        {
            Assert.Contains(family, text, StringComparison.Ordinal);
        }
    }

    /// <summary>With <c>OtlpEndpoint</c> set, the meters are pushed as OTLP/HTTP protobuf to <c>/v1/metrics</c>.</summary>
    [Fact]
    public async Task Otlp_PushesToTheConfiguredCollector()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var options = new AgentOptions { VolumeGroup = "san", StateDir = _state, OtlpEndpoint = $"http://127.0.0.1:{port}", OtlpIntervalSeconds = 1 };
        using var reader = new PrometheusMetricReader();
        using var provider = Telemetry.Telemetry.BuildMeterProvider(options, reader);
        using var metrics = new AgentMetrics(new FencedSet(options));
        metrics.OperationDone("lv.create", "succeeded", "node1", TimeSpan.FromSeconds(1), TimeSpan.Zero);

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var client = await listener.AcceptTcpClientAsync(timeout.Token);
        var stream = client.GetStream();
        var buffer = new byte[64 * 1024];
        var head = new StringBuilder();
        while (!head.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
        {
            var n = await stream.ReadAsync(buffer, timeout.Token);
            Assert.True(n > 0, "the exporter closed the connection before sending its request");
            head.Append(Encoding.Latin1.GetString(buffer, 0, n));
        }

        // The body, to its Content-Length.
        var text = head.ToString();
        var headerEnd = text.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4;
        var lengthLine = text[..headerEnd].Split("\r\n").First(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase));
        var length = int.Parse(lengthLine["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
        while (head.Length - headerEnd < length)
        {
            var n = await stream.ReadAsync(buffer, timeout.Token);
            Assert.True(n > 0, "the exporter closed the connection mid-body");
            head.Append(Encoding.Latin1.GetString(buffer, 0, n));
        }

        var request = head.ToString();
        Assert.StartsWith("POST /v1/metrics HTTP/1.1", request, StringComparison.Ordinal);
        Assert.Contains("Content-Type: application/x-protobuf", request, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("vgmesh.operations", request, StringComparison.Ordinal); // instrument names travel as protobuf strings
        await stream.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"u8.ToArray(), timeout.Token);
    }
}
