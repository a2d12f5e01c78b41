using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace VgMesh.Metrics;

/// <summary>
/// A pull reader for <c>/metrics</c>: each scrape collects once (cumulative temporality, as
/// Prometheus expects) and renders what the SDK hands over in the text exposition format.
/// OpenTelemetry's own Prometheus exporter packages are not available here; this is the small
/// part of them vgmesh needs.
/// </summary>
public sealed class PrometheusMetricReader : BaseExportingMetricReader
{
    private readonly Lock _gate = new();
    private readonly TextSink _sink;

    public PrometheusMetricReader()
        : this(new TextSink())
    {
    }

    private PrometheusMetricReader(TextSink sink)
        : base(sink)
    {
        _sink = sink;
        TemporalityPreference = MetricReaderTemporalityPreference.Cumulative;
    }

    /// <summary>Collects now and returns the exposition text; scrapes are serialised.</summary>
    public string Scrape(TimeSpan timeout)
    {
        lock (_gate)
        {
            _sink.Begin();
            // Pull-only readers collect through the exporter's delegate (it opens the SDK's pull scope).
            if (_sink.Collect is not { } collect || !collect((int)timeout.TotalMilliseconds))
            {
                throw new TimeoutException($"metrics collection did not finish within {timeout.TotalMilliseconds:0} ms");
            }

            return _sink.Text;
        }
    }

    [ExportModes(ExportModes.Pull)]
    private sealed class TextSink : BaseExporter<Metric>, IPullMetricExporter
    {
        private PrometheusTextWriter _writer = new();

        public Func<int, bool>? Collect { get; set; }

        public string Text => _writer.ToString();

        public void Begin() => _writer = new PrometheusTextWriter();

        public override ExportResult Export(in Batch<Metric> batch)
        {
            foreach (var metric in batch)
            {
                _writer.Write(metric);
            }

            return ExportResult.Success;
        }
    }
}
