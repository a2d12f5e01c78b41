using System.Diagnostics;
using System.Globalization;

namespace VgMesh.Bench;

/// <summary>What every benchmark prints (one JSON object per figure) and the helpers it measures with.</summary>
internal static class Figures
{
    public static async Task<T> WaitAsync<T>(Func<T?> probe, TimeSpan within)
        where T : class
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(within.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            if (probe() is { } v)
            {
                return v;
            }

            if (Stopwatch.GetTimestamp() > deadline)
            {
                throw new TimeoutException("benchmark step timed out");
            }

            await Task.Delay(10);
        }
    }

    public static double Pct(List<double> values, double p)
    {
        var s = values.Order().ToList();
        var rank = Math.Clamp((int)Math.Ceiling(p / 100 * s.Count) - 1, 0, s.Count - 1);
        return Math.Round(s[rank], 3);
    }

    public static void Print(string name, double value, string unit, string? target) =>
        Console.WriteLine($"{{\"name\":\"{name}\",\"value\":{value.ToString(CultureInfo.InvariantCulture)},\"unit\":\"{unit}\",\"target\":{(target is null ? "null" : $"\"{target}\"")}}}");
}
