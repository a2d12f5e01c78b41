using System.Collections.Concurrent;
using System.Text.Json.Serialization;

namespace VgMesh.Proof.Fuzzing;

/// <summary>A request whose answer broke its promise, with what is needed to send it again.</summary>
public sealed record Violation(int Index, string Kind, string Expected, string Request, int Status, string Answer, string Why);

/// <summary>
/// One fuzz run. Request <c>i</c> is made from the seed and <c>i</c> alone, so a violation is
/// replayed with <c>--seed S --first i --requests 1</c> whatever the concurrency.
/// </summary>
public sealed record FuzzReport(
    string Surface,
    string Target,
    int Seed,
    int First,
    int Requests,
    int Concurrency,
    double Seconds,
    double P50Milliseconds,
    double MaxMilliseconds,
    IReadOnlyDictionary<string, int> ByKind,
    IReadOnlyDictionary<string, KindTimes> TimesByKind,
    IReadOnlyDictionary<string, int> ByStatus,
    int Violations,
    IReadOnlyList<Violation> FirstViolations)
{
    public bool Passed => Violations == 0;
}

/// <summary>How long a kind's requests took to be answered (where a run's time goes).</summary>
public sealed record KindTimes(double P50Milliseconds, double MaxMilliseconds, double TotalSeconds);

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(FuzzReport))]
public sealed partial class ProofJsonContext : JsonSerializerContext;

public static class FuzzRun
{
    private const int KeptViolations = 50;

    /// <summary>Runs requests <paramref name="first"/> .. first+count-1 with <paramref name="concurrency"/> clients.</summary>
    public static async Task<FuzzReport> RunAsync(ICaseSource cases, Target target, int seed, int first, int count, int concurrency, TimeSpan timeout, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(cases);
        ArgumentNullException.ThrowIfNull(target);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var next = first - 1;
        var kinds = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        var statuses = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        var times = new ConcurrentBag<(string Kind, double Ms)>();
        var violations = new ConcurrentBag<Violation>();

        async Task Client()
        {
            while (Interlocked.Increment(ref next) is var i && i < first + count)
            {
                var c = cases.Make(i, new Random(Mix(seed, i)));
                kinds.AddOrUpdate(c.Kind, 1, (_, n) => n + 1);
                var answers = c.Twice
                    ? await Task.WhenAll(Send(c), Send(c)).ConfigureAwait(false)
                    : [await Send(c).ConfigureAwait(false)];
                foreach (var a in answers)
                {
                    times.Add((c.Kind, a.Milliseconds));
                    statuses.AddOrUpdate(a.TimedOut ? "timeout" : a.Status == 0 ? "closed" : a.Status.ToString(System.Globalization.CultureInfo.InvariantCulture), 1, (_, n) => n + 1);
                    if (Verdict.Judge(c, a) is { } why)
                    {
                        violations.Add(new Violation(i, c.Kind, c.Expect.ToString(), c.Summary, a.Status, a.Excerpt(), why));
                    }
                }
            }
        }

        Task<Answer> Send(FuzzCase c) => RawHttp.SendAsync(target, c.Request, c.HalfClose, timeout, ct);

        await Task.WhenAll(Enumerable.Range(0, Math.Max(1, concurrency)).Select(_ => Task.Run(Client, ct))).ConfigureAwait(false);
        var sorted = times.Select(t => t.Ms).Order().ToArray();
        var byKind = times.GroupBy(t => t.Kind).ToDictionary(g => g.Key, g =>
        {
            var ms = g.Select(t => t.Ms).Order().ToArray();
            return new KindTimes(Math.Round(ms[ms.Length / 2], 1), Math.Round(ms[^1], 1), Math.Round(ms.Sum() / 1000, 1));
        });
        return new FuzzReport(cases.Surface, target.ToString(), seed, first, count, concurrency, Math.Round(clock.Elapsed.TotalSeconds, 1),
            sorted.Length == 0 ? 0 : Math.Round(sorted[sorted.Length / 2], 1), sorted.Length == 0 ? 0 : Math.Round(sorted[^1], 1),
            new SortedDictionary<string, int>(kinds, StringComparer.Ordinal), new SortedDictionary<string, KindTimes>(byKind, StringComparer.Ordinal),
            new SortedDictionary<string, int>(statuses, StringComparer.Ordinal), violations.Count, violations.OrderBy(v => v.Index).Take(KeptViolations).ToList());
    }

    /// <summary>A request's own seed: stable across runs and platforms (not string hashing).</summary>
    public static int Mix(int seed, int index)
    {
        var x = ((ulong)(uint)seed << 32) | (uint)index;
        x ^= x >> 33;
        x *= 0xff51afd7ed558ccdUL;
        x ^= x >> 33;
        x *= 0xc4ceb9fe1a85ec53UL;
        x ^= x >> 33;
        return (int)(x & 0x7fffffff);
    }
}
