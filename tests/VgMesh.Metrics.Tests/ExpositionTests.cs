using System.Diagnostics;
using System.Diagnostics.Metrics;
using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace VgMesh.Metrics.Tests;

public sealed class ExpositionTests : IDisposable
{
    private readonly Meter _meter = new("VgMesh.Test." + Guid.NewGuid().ToString("N"));
    private readonly PrometheusMetricReader _reader = new();
    private readonly MeterProvider _provider;

    public ExpositionTests()
    {
        _provider = Sdk.CreateMeterProviderBuilder().AddMeter(_meter.Name)
            .AddView("test.duration", new ExplicitBucketHistogramConfiguration { Boundaries = [0.01, 0.1, 1] })
            .AddReader(_reader).Build()!;
    }

    public void Dispose()
    {
        _provider.Dispose();
        _meter.Dispose();
    }

    private string Scrape() => _reader.Scrape(TimeSpan.FromSeconds(5));

    [Fact]
    public void Counter_GetsTotalSuffix_HelpAndTypeOnce()
    {
        var c = _meter.CreateCounter<long>("test.operations", "{operation}", "Operations done.");
        c.Add(2, new KeyValuePair<string, object?>("kind", "lv.create"));
        c.Add(1, new KeyValuePair<string, object?>("kind", "lv.remove"));
        var text = Scrape();
        Assert.Contains("# HELP test_operations_total Operations done.\n# TYPE test_operations_total counter\n", text, StringComparison.Ordinal);
        Assert.Contains("test_operations_total{kind=\"lv.create\"} 2\n", text, StringComparison.Ordinal);
        Assert.Contains("test_operations_total{kind=\"lv.remove\"} 1\n", text, StringComparison.Ordinal);
        Assert.Single(text.Split('\n'), l => l.StartsWith("# TYPE test_operations_total", StringComparison.Ordinal));
    }

    [Fact]
    public void Histogram_CumulativeBuckets_SumAndCount()
    {
        var h = _meter.CreateHistogram<double>("test.duration", "s", "How long.");
        foreach (var v in new[] { 0.005, 0.05, 0.5, 5.0 })
        {
            h.Record(v, new KeyValuePair<string, object?>("command", "lvs"));
        }

        var text = Scrape();
        Assert.Contains("# TYPE test_duration_seconds histogram\n", text, StringComparison.Ordinal);
        Assert.Contains("test_duration_seconds_bucket{command=\"lvs\",le=\"0.01\"} 1\n", text, StringComparison.Ordinal);
        Assert.Contains("test_duration_seconds_bucket{command=\"lvs\",le=\"0.1\"} 2\n", text, StringComparison.Ordinal);
        Assert.Contains("test_duration_seconds_bucket{command=\"lvs\",le=\"1\"} 3\n", text, StringComparison.Ordinal);
        Assert.Contains("test_duration_seconds_bucket{command=\"lvs\",le=\"+Inf\"} 4\n", text, StringComparison.Ordinal);
        Assert.Contains("test_duration_seconds_sum{command=\"lvs\"} 5.555\n", text, StringComparison.Ordinal);
        Assert.Contains("test_duration_seconds_count{command=\"lvs\"} 4\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Gauges_UnitSuffixes_RatioAndBytes()
    {
        _meter.CreateObservableGauge("test.vg.free", () => 1024L, "By", "Free bytes.");
        _meter.CreateObservableGauge("test.snapshot.usage", () => new Measurement<double>(0.25, new KeyValuePair<string, object?>("lv", "s1")), "1", "Used share.");
        _meter.CreateUpDownCounter<long>("test.queue.depth", "{operation}", "Waiting.").Add(3);
        var text = Scrape();
        Assert.Contains("# TYPE test_vg_free_bytes gauge\ntest_vg_free_bytes 1024\n", text, StringComparison.Ordinal);
        Assert.Contains("test_snapshot_usage_ratio{lv=\"s1\"} 0.25\n", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE test_queue_depth gauge\ntest_queue_depth 3\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void HostileLabelValuesAndHelp_AreEscaped()
    {
        var c = _meter.CreateCounter<long>("test.escapes", null, "line one\nback\\slash \"quoted\"");
        c.Add(1, new KeyValuePair<string, object?>("lv", "a\"b\\c\nd"), new KeyValuePair<string, object?>("weird.key-name", "x"));
        var text = Scrape();
        Assert.Contains("# HELP test_escapes_total line one\\nback\\\\slash \"quoted\"\n", text, StringComparison.Ordinal);
        Assert.Contains("test_escapes_total{lv=\"a\\\"b\\\\c\\nd\",weird_key_name=\"x\"} 1\n", text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("vgmesh.operation.duration", "s", false, false, "vgmesh_operation_duration_seconds")]
    [InlineData("vgmesh.operations", "{operation}", true, false, "vgmesh_operations_total")]
    [InlineData("vgmesh.vg.size", "By", false, true, "vgmesh_vg_size_bytes")]
    [InlineData("vgmesh.applied.lag", "s", false, true, "vgmesh_applied_lag_seconds")]
    [InlineData("vgmesh.snapshot.usage", "1", false, true, "vgmesh_snapshot_usage_ratio")]
    [InlineData("9lives.a--b", null, false, true, "_9lives_a_b")]
    [InlineData("x.total", null, true, false, "x_total")]
    public void FamilyNames_FollowOpenTelemetrysPrometheusRules(string name, string? unit, bool counter, bool gauge, string expected) =>
        Assert.Equal(expected, PrometheusTextWriter.FamilyName(name, unit, counter, gauge));

    /// <summary>Prometheus's own parser (promtool, from Debian's prometheus package) reads every kind of family we write.</summary>
    [Fact]
    public async Task PrometheusOwnParser_AcceptsTheText()
    {
        _meter.CreateCounter<long>("test.operations", "{operation}", "Operations done.").Add(5, new KeyValuePair<string, object?>("lv", "a\"b\\c\nd"));
        _meter.CreateHistogram<double>("test.duration", "s", "How long.\nReally.").Record(0.2);
        _meter.CreateObservableGauge("test.snapshot.usage", () => 0.5, "1", "Used share.");
        _meter.CreateObservableGauge("test.nan", () => double.NaN, null, "Not a number.");
        var text = Scrape();

        var psi = new ProcessStartInfo("promtool") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("check");
        psi.ArgumentList.Add("metrics");
        using var p = Process.Start(psi)!;
        await p.StandardInput.WriteAsync(text);
        p.StandardInput.Close();
        var stderr = await p.StandardError.ReadToEndAsync();
        var stdout = await p.StandardOutput.ReadToEndAsync();
        await p.WaitForExitAsync();
        Assert.True(p.ExitCode == 0, $"promtool check metrics exited {p.ExitCode}: {stdout}{stderr}\n---\n{text}");
    }
}
