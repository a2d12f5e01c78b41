using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace VgMesh.Agent.Telemetry;

/// <summary>
/// The agent's metrics through OpenTelemetry's hosting: its own meter, the runtime, process and
/// ASP.NET Core instrumentation, OpenTelemetry's Prometheus exporter for <c>/metrics</c> always,
/// and an OTLP exporter when configured.
/// </summary>
public static class Telemetry
{
    /// <summary>The instruments whose buckets are the agent's (seconds, see <see cref="AgentMetrics.DurationBuckets"/>).</summary>
    private static readonly string[] Durations = ["vgmesh.operation.duration", "vgmesh.lvm.command.duration", "vgmesh.queue.wait", "vgmesh.lls.snapshot.grow.reaction"];

    public static IServiceCollection AddAgentTelemetry(this IServiceCollection services, AgentOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService("vgmeshd", serviceInstanceId: options.Host))
            .WithMetrics(m => ConfigureMetrics(m, options));
        return services;
    }

    private static MeterProviderBuilder ConfigureMetrics(MeterProviderBuilder builder, AgentOptions options)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(options);
        builder.AddMeter(AgentMetrics.MeterName)
            .AddRuntimeInstrumentation()
            .AddProcessInstrumentation()
            .AddAspNetCoreInstrumentation()
            .AddPrometheusExporter(o =>
            {
                // Every scrape collects: a cached answer would hide a change a test or an operator just made.
                o.ScrapeResponseCacheDurationMilliseconds = 0;
                // Without scope labels every series keeps the label set the dashboards and rules were
                // written against (the meter's name is in each family's name already).
                o.ScopeInfoEnabled = false;
            });
        foreach (var name in Durations)
        {
            builder.AddView(name, new ExplicitBucketHistogramConfiguration { Boundaries = AgentMetrics.DurationBuckets });
        }

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

        return builder;
    }

    /// <summary><c>GET /metrics</c>, answered by the exporter (Prometheus text, or OpenMetrics when asked).</summary>
    public static IEndpointConventionBuilder MapMetrics(this IEndpointRouteBuilder endpoints) => endpoints.MapPrometheusScrapingEndpoint("/metrics");
}
