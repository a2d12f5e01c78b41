using System.Globalization;
using System.Text;
using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace VgMesh.Metrics;

/// <summary>
/// Prometheus text exposition format 0.0.4: one <c># HELP</c> and <c># TYPE</c> line per family,
/// counters with <c>_total</c>, histograms as cumulative <c>_bucket{le=...}</c> up to <c>+Inf</c>
/// plus <c>_sum</c> and <c>_count</c>, escaped label values. Names follow OpenTelemetry's
/// Prometheus compatibility rules (dots to underscores, the unit as a suffix).
/// </summary>
public sealed class PrometheusTextWriter
{
    private readonly StringBuilder _text = new();
    private readonly HashSet<string> _families = new(StringComparer.Ordinal);

    public override string ToString() => _text.ToString();

    public void Write(Metric metric)
    {
        ArgumentNullException.ThrowIfNull(metric);
        var type = metric.MetricType;
        var monotonic = type is MetricType.LongSum or MetricType.DoubleSum;
        var histogram = type == MetricType.Histogram;
        if (!monotonic && !histogram && type is not (MetricType.LongGauge or MetricType.DoubleGauge or MetricType.LongSumNonMonotonic or MetricType.DoubleSumNonMonotonic))
        {
            return; // exponential histograms are not configured by vgmesh
        }

        var name = FamilyName(metric.Name, metric.Unit, monotonic, gauge: !monotonic && !histogram);
        if (!_families.Add(name))
        {
            return; // one family per name; a second instrument mapping to it would be invalid text
        }

        _text.Append("# HELP ").Append(name).Append(' ').Append(EscapeHelp(metric.Description)).Append('\n');
        _text.Append("# TYPE ").Append(name).Append(' ').Append(monotonic ? "counter" : histogram ? "histogram" : "gauge").Append('\n');
        foreach (ref readonly var point in metric.GetMetricPoints())
        {
            var labels = Labels(point.Tags);
            if (histogram)
            {
                long cumulative = 0;
                foreach (var bucket in point.GetHistogramBuckets())
                {
                    cumulative += bucket.BucketCount;
                    var le = double.IsPositiveInfinity(bucket.ExplicitBound) ? "+Inf" : Number(bucket.ExplicitBound);
                    Sample(name + "_bucket", WithLabel(labels, "le", le), cumulative.ToString(CultureInfo.InvariantCulture));
                }

                Sample(name + "_sum", labels, Number(point.GetHistogramSum()));
                Sample(name + "_count", labels, point.GetHistogramCount().ToString(CultureInfo.InvariantCulture));
            }
            else
            {
                var value = type switch
                {
                    MetricType.LongSum or MetricType.LongSumNonMonotonic => point.GetSumLong().ToString(CultureInfo.InvariantCulture),
                    MetricType.DoubleSum or MetricType.DoubleSumNonMonotonic => Number(point.GetSumDouble()),
                    MetricType.LongGauge => point.GetGaugeLastValueLong().ToString(CultureInfo.InvariantCulture),
                    _ => Number(point.GetGaugeLastValueDouble()),
                };
                Sample(name, labels, value);
            }
        }
    }

    private void Sample(string name, string labels, string value) => _text.Append(name).Append(labels).Append(' ').Append(value).Append('\n');

    /// <summary>
    /// <c>vgmesh.operation.duration</c> in <c>s</c> becomes <c>vgmesh_operation_duration_seconds</c>;
    /// a counter gets <c>_total</c>; a gauge in unit <c>1</c> gets <c>_ratio</c>; <c>{annotations}</c> add nothing.
    /// </summary>
    public static string FamilyName(string name, string? unit, bool counter, bool gauge)
    {
        ArgumentNullException.ThrowIfNull(name);
        var n = Sanitize(name, allowColon: true);
        var suffix = UnitSuffix(unit, gauge);
        if (suffix.Length > 0 && !n.EndsWith("_" + suffix, StringComparison.Ordinal))
        {
            n += "_" + suffix;
        }

        if (counter && !n.EndsWith("_total", StringComparison.Ordinal))
        {
            n += "_total";
        }

        return n;
    }

    private static string UnitSuffix(string? unit, bool gauge)
    {
        if (string.IsNullOrEmpty(unit) || (unit.StartsWith('{') && unit.EndsWith('}')))
        {
            return "";
        }

        return unit switch
        {
            "s" => "seconds",
            "ms" => "milliseconds",
            "By" => "bytes",
            "%" => "percent",
            "1" => gauge ? "ratio" : "",
            _ => Sanitize(unit, allowColon: false).Trim('_'),
        };
    }

    /// <summary>Metric names: <c>[a-zA-Z_:][a-zA-Z0-9_:]*</c>; label names without colons. Runs of other characters become one underscore.</summary>
    public static string Sanitize(string name, bool allowColon)
    {
        ArgumentNullException.ThrowIfNull(name);
        var b = new StringBuilder(name.Length + 1);
        foreach (var c in name)
        {
            var ok = char.IsAsciiLetterOrDigit(c) || c == '_' || (allowColon && c == ':');
            if (ok)
            {
                b.Append(c);
            }
            else if (b.Length == 0 || b[^1] != '_')
            {
                b.Append('_');
            }
        }

        if (b.Length == 0 || char.IsAsciiDigit(b[0]))
        {
            b.Insert(0, '_');
        }

        return b.ToString();
    }

    private static string Labels(ReadOnlyTagCollection tags)
    {
        if (tags.Count == 0)
        {
            return "";
        }

        var b = new StringBuilder("{");
        foreach (var tag in tags)
        {
            if (b.Length > 1)
            {
                b.Append(',');
            }

            b.Append(Sanitize(tag.Key, allowColon: false)).Append("=\"").Append(EscapeLabel(Convert.ToString(tag.Value, CultureInfo.InvariantCulture) ?? "")).Append('"');
        }

        return b.Append('}').ToString();
    }

    private static string WithLabel(string labels, string name, string value) =>
        labels.Length == 0 ? $"{{{name}=\"{value}\"}}" : $"{labels[..^1]},{name}=\"{value}\"}}";

    /// <summary>Label values escape backslash, double quote and line feed.</summary>
    public static string EscapeLabel(string value) =>
        (value ?? "").Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    /// <summary>HELP text escapes backslash and line feed only.</summary>
    public static string EscapeHelp(string? value) =>
        (value ?? "").Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    public static string Number(double v) =>
        double.IsPositiveInfinity(v) ? "+Inf" : double.IsNegativeInfinity(v) ? "-Inf" : double.IsNaN(v) ? "NaN" : v.ToString("R", CultureInfo.InvariantCulture);
}
