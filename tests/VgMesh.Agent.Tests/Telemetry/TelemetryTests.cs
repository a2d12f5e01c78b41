using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;
using VgMesh.Agent.Telemetry;

namespace VgMesh.Agent.Tests.Telemetry;

/// <summary>
/// The agent's telemetry as it runs: OpenTelemetry's hosting and Prometheus exporter on a real
/// Kestrel, scraped over HTTP the way Prometheus does, and checked by Prometheus's own parser.
/// </summary>
public sealed class TelemetryTests : IAsyncLifetime, IDisposable
{
    private readonly string _state = Directory.CreateTempSubdirectory("vgmesh-telemetry").FullName;
    private WebApplication? _app;
    private HttpClient _http = new();

    private AgentMetrics Metrics => _app!.Services.GetRequiredService<AgentMetrics>();

    public Task InitializeAsync() => StartAsync(new AgentOptions { VolumeGroup = "san", StateDir = _state, Host = "node1" });

    private async Task StartAsync(AgentOptions options)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton<FencedSet>();
        builder.Services.AddAgentTelemetry(options);
        builder.Services.AddSingleton(sp =>
        {
            _ = sp.GetRequiredService<MeterProvider>();
            return new AgentMetrics(sp.GetRequiredService<FencedSet>());
        });
        _app = builder.Build();
        _app.MapMetrics();
        await _app.StartAsync();
        _ = Metrics;
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        _http.Dispose();
        _http = new HttpClient { BaseAddress = new Uri(address) };
    }

    public void Dispose() => _http.Dispose();

    public async Task DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.DisposeAsync();
        }

        Directory.Delete(_state, recursive: true);
    }

    private async Task<(string ContentType, string Text)> ScrapeAsync(string? accept = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        if (accept is not null)
        {
            request.Headers.Accept.Add(MediaTypeWithQualityHeaderValue.Parse(accept));
        }

        using var response = await _http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (response.Content.Headers.ContentType!.ToString(), await response.Content.ReadAsStringAsync());
    }

    /// <summary>(The exporter writes a series without labels as <c>name{}</c>, which Prometheus reads as <c>name</c>.)</summary>
    [Fact]
    public async Task Scrape_HasEveryFamilyTheDashboardNeeds_BeforeAnyEvent()
    {
        Metrics.LvmCommand("lvm", "lvs", ok: true, TimeSpan.FromMilliseconds(300));
        var (type, text) = await ScrapeAsync();
        Assert.StartsWith("text/plain", type, StringComparison.Ordinal);
        foreach (var family in new[]
        {
            "vgmesh_reconcile_passes_total{result=\"failed\"} 0", "vgmesh_reconcile_repaired_total{kind=\"refresh\"} 0", "vgmesh_fenced_lvs{} 0",
            "vgmesh_leadership_state{state=\"follower\"} 1", "vgmesh_coordinator_lease_state{state=\"none\"} 1", "vgmesh_cluster_members{status=\"unreachable\"} 0",
            "vgmesh_lvm_command_duration_seconds_bucket{command=\"lvs\",result=\"ok\",tool=\"lvm\",le=\"0.5\"} 1",
        })
        {
            Assert.Contains(family, text, StringComparison.Ordinal);
        }
    }

    private static VgMesh.Lvm.Reports.LogicalVolume Snapshot(string name, string origin, double percent) =>
        new(name, "san", "uuid", 8 << 20, VgMesh.Lvm.Reports.LvAttributes.Parse("swi-a-s---"), origin, percent, null, 1, [], Active: true, ActiveLocally: true,
            ActiveExclusively: false, DeviceOpen: false, KernelMajor: 253, KernelMinor: 3, ChunkSizeBytes: 4096, IsHidden: false, Merging: false, TableMismatch: false);

    [Fact]
    public async Task Scrape_UnitsAndKinds_FollowThePrometheusNames()
    {
        Metrics.OperationDone("lv.create", "succeeded", "node2", TimeSpan.FromSeconds(1.2), TimeSpan.FromMilliseconds(20));
        Metrics.ObserveVolumeGroup(new VgMesh.Lvm.Reports.VolumeGroup("san", "uuid", 1 << 30, 1 << 29, 4 << 20, 256, 128, 7, "wz--n-", "", 0, 0, 1, []), [Snapshot("s1snap", "s1", 37.5)], 0);
        var (_, text) = await ScrapeAsync();
        Assert.Contains("# TYPE vgmesh_operations_total counter\n", text, StringComparison.Ordinal);
        Assert.Contains("vgmesh_operations_total{host=\"node2\",kind=\"lv.create\",result=\"succeeded\"} 1", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE vgmesh_operation_duration_seconds histogram\n", text, StringComparison.Ordinal);
        Assert.Contains("vgmesh_operation_duration_seconds_bucket{kind=\"lv.create\",result=\"succeeded\",le=\"2.5\"} 1", text, StringComparison.Ordinal);
        Assert.Contains("vgmesh_vg_size_bytes{} 1073741824", text, StringComparison.Ordinal);
        Assert.Contains("vgmesh_vg_seqno{} 7", text, StringComparison.Ordinal);
        Assert.Contains("vgmesh_snapshot_usage_ratio{lv=\"s1snap\",origin=\"s1\"} 0.375", text, StringComparison.Ordinal);
        // What the issue adds: the runtime, the process and ASP.NET Core's own meters, and the service's identity.
        Assert.Contains("dotnet_gc_collections_total", text, StringComparison.Ordinal);
        Assert.Contains("process_cpu_time_seconds_total", text, StringComparison.Ordinal);
        Assert.Contains("target_info{", text, StringComparison.Ordinal);
        Assert.Contains("service_instance_id=\"node1\"", text, StringComparison.Ordinal);
        Assert.DoesNotContain("otel_scope_name", text, StringComparison.Ordinal);
    }

    /// <summary>
    /// Names promtool's linter flags ("non-histogram and non-summary metrics should not have _count
    /// suffix"): the runtime's and the process's come from OpenTelemetry's semantic conventions,
    /// <c>vgmesh_lv_count</c> is kept because dashboards and rules read it. Anything else fails.
    /// </summary>
    private static readonly string[] KnownCountNames =
        ["dotnet_assembly_count", "dotnet_process_cpu_count", "dotnet_timer_count", "process_thread_count", "process_unix_file_descriptor_count", "vgmesh_lv_count"];

    /// <summary>Prometheus's own parser (promtool, from Debian's prometheus package) reads the scrape, hostile values included.</summary>
    [Fact]
    public async Task PrometheusOwnParser_AcceptsTheScrape()
    {
        // A second meter of the agent's name is collected too: it carries what the agent's own instruments never record.
        using var meter = new Meter(AgentMetrics.MeterName);
        meter.CreateCounter<long>("vgmesh.test.escapes", null, "line one\nback\\slash \"quoted\"")
            .Add(1, new KeyValuePair<string, object?>("lv", "a\"b\\c\nd"), new KeyValuePair<string, object?>("weird.key-name", "x"));
        meter.CreateObservableGauge("vgmesh.test.nan", () => double.NaN, null, "Not a number.");
        Metrics.OperationDone("lv.remove", "lv-in-use", "node3", TimeSpan.FromSeconds(0.3), TimeSpan.Zero);
        var (_, text) = await ScrapeAsync();
        Assert.Contains("vgmesh_test_escapes_total{lv=\"a\\\"b\\\\c\\nd\",weird_key_name=\"x\"} 1", text, StringComparison.Ordinal);

        var psi = new ProcessStartInfo("promtool") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("check");
        psi.ArgumentList.Add("metrics");
        using var p = Process.Start(psi)!;
        await p.StandardInput.WriteAsync(text);
        p.StandardInput.Close();
        var stderr = await p.StandardError.ReadToEndAsync();
        var stdout = await p.StandardOutput.ReadToEndAsync();
        await p.WaitForExitAsync();
        // Exit 1 is a parse error; 3 is lint findings only, each of which must be a known one.
        var findings = (stdout + stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var unknown = findings.Where(f => !KnownCountNames.Any(n => f == n + " non-histogram and non-summary metrics should not have \"_count\" suffix")).ToList();
        Assert.True(p.ExitCode is 0 or 3 && unknown.Count == 0, $"promtool check metrics exited {p.ExitCode}: {string.Join('\n', unknown)}\n---\n{text}");
    }

    /// <summary>
    /// Prometheus asks for OpenMetrics first, and gets it. (promtool 2.42 parses only the text format:
    /// it refuses OpenMetrics' <c>info</c> type; the lab's Prometheus scrapes this format for real.)
    /// </summary>
    [Fact]
    public async Task OpenMetrics_WhenPrometheusAsksForIt()
    {
        var (type, text) = await ScrapeAsync("application/openmetrics-text; version=1.0.0");
        Assert.StartsWith("application/openmetrics-text", type, StringComparison.Ordinal);
        Assert.Contains("# TYPE vgmesh_reconcile_passes counter\n", text, StringComparison.Ordinal);
        Assert.Contains("vgmesh_reconcile_passes_total{result=\"ok\"} 0", text, StringComparison.Ordinal);
        Assert.EndsWith("# EOF\n", text, StringComparison.Ordinal);
    }

    /// <summary>With <c>OtlpEndpoint</c> set, the meters are pushed as OTLP/HTTP protobuf to <c>/v1/metrics</c>, beside the scrape endpoint.</summary>
    [Fact]
    public async Task Otlp_PushesToTheConfiguredCollector()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        await _app!.DisposeAsync();
        await StartAsync(new AgentOptions { VolumeGroup = "san", StateDir = _state, Host = "node1", OtlpEndpoint = $"http://127.0.0.1:{port}", OtlpIntervalSeconds = 1 });
        Metrics.OperationDone("lv.create", "succeeded", "node1", TimeSpan.FromSeconds(1), TimeSpan.Zero);

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
        Assert.Contains("vgmesh_operations_total", (await ScrapeAsync()).Text, StringComparison.Ordinal);
    }
}
