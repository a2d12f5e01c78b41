using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using VgMesh.Metrics;

namespace VgMesh.Agent.Telemetry;

/// <summary>The meter provider: the <c>/metrics</c> reader always, an OTLP exporter when configured.</summary>
public static class Telemetry
{
    public static MeterProvider BuildMeterProvider(AgentOptions options, PrometheusMetricReader reader)
    {
        ArgumentNullException.ThrowIfNull(options);
        var buckets = new ExplicitBucketHistogramConfiguration { Boundaries = AgentMetrics.DurationBuckets };
        var builder = Sdk.CreateMeterProviderBuilder()
            .AddMeter(AgentMetrics.MeterName)
            .AddView("vgmesh.operation.duration", buckets)
            .AddView("vgmesh.lvm.command.duration", buckets)
            .AddView("vgmesh.queue.wait", buckets)
            .AddReader(reader);
        if (!string.IsNullOrEmpty(options.OtlpEndpoint))
        {
            builder.AddOtlpExporter((exporter, readerOptions) =>
            {
                exporter.Endpoint = new Uri(new Uri(options.OtlpEndpoint), "v1/metrics");
                exporter.Protocol = OtlpExportProtocol.HttpProtobuf;
                readerOptions.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = options.OtlpIntervalSeconds * 1000;
                readerOptions.TemporalityPreference = MetricReaderTemporalityPreference.Cumulative;
            });
        }

        return builder.Build()!;
    }
}
