using System.Globalization;

namespace VgMesh.Torture;

/// <summary>
/// Watches every host's device-mapper from inside the host: a shell loop there writes
/// <c>dmsetup table</c> about five times a second to a file in the host's own directory, each
/// between two timestamps of the machine's one clock (every lab host reads it). A loop in the
/// host keeps sampling while the host's network is cut, and its times do not depend on how
/// fast a session reaches it.
/// </summary>
public static class Sampler
{
    public const string FileName = "torture-dm.log";

    public const string ScriptName = "torture-dm.sh";

    /// <summary>
    /// The loop, a bash script for the host: a line <c>S START END</c> (microseconds since the
    /// epoch, bash's own clock), then the tables. It naps with <c>read -t</c> on a FIFO nobody
    /// writes, not <c>sleep</c>, and reads the clock without <c>date</c>: one process a sample
    /// (dmsetup), so the agent it watches keeps the host's one CPU.
    /// </summary>
    public static string Script(string file) =>
        $$"""
        #!/bin/bash
        rm -f /run/torture-nap; mkfifo /run/torture-nap; exec 9<>/run/torture-nap
        while :; do
          s=${EPOCHREALTIME/./}; t=$(dmsetup table 2>/dev/null); e=${EPOCHREALTIME/./}
          printf 'S %s %s\n%s\n' "$s" "$e" "$t"
          read -t 0.2 -u 9 || true
        done >>{{file}}

        """;

    /// <summary>The samples in a host's file, for the LVs of <paramref name="vg"/> (top-level devices only).</summary>
    public static IEnumerable<DmSample> Parse(string host, string vg, IEnumerable<string> lines)
    {
        ArgumentNullException.ThrowIfNull(lines);
        (DateTimeOffset Start, DateTimeOffset End)? current = null;
        var live = new HashSet<string>(StringComparer.Ordinal);
        var dead = new HashSet<string>(StringComparer.Ordinal);
        foreach (var line in lines)
        {
            if (line.StartsWith("S ", StringComparison.Ordinal))
            {
                if (current is { } c)
                {
                    yield return new DmSample(host, c.Start, c.End, live);
                }

                var parts = line.Split(' ');
                current = parts.Length == 3 && long.TryParse(parts[1], CultureInfo.InvariantCulture, out var s) && long.TryParse(parts[2], CultureInfo.InvariantCulture, out var e)
                    ? (FromMicros(s), FromMicros(e)) : null;
                live = new HashSet<string>(StringComparer.Ordinal);
                dead.Clear();
                continue;
            }

            // "san-tx1: 0 16384 linear 98:0 2048" - a device's line; a wiped (fenced) one is "error".
            var colon = line.IndexOf(": ", StringComparison.Ordinal);
            if (current is null || colon <= 0 || LvOf(vg, line[..colon]) is not { } lv)
            {
                continue;
            }

            var fields = line[(colon + 2)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length >= 3 && fields[2] != "error" && !dead.Contains(lv))
            {
                live.Add(lv);
            }
            else if (fields.Length >= 3 && fields[2] == "error")
            {
                // A device is live only if none of its segments is wiped.
                live.Remove(lv);
                dead.Add(lv);
            }
        }

        if (current is { } last)
        {
            yield return new DmSample(host, last.Start, last.End, live);
        }
    }

    /// <summary>The LVs of the VG whose device has a wiped (<c>error</c>) segment: fenced.</summary>
    public static IReadOnlySet<string> Wiped(string vg, IEnumerable<string> dmsetupTable) =>
        dmsetupTable.Select(l => l.IndexOf(": ", StringComparison.Ordinal) is > 0 and var c &&
                l[(c + 2)..].Split(' ', StringSplitOptions.RemoveEmptyEntries) is { Length: >= 3 } f && f[2] == "error" ? LvOf(vg, l[..c]) : null)
            .OfType<string>().ToHashSet(StringComparer.Ordinal);

    /// <summary>Every LV of the VG with a device in the last sample (live or fenced).</summary>
    public static IReadOnlySet<string> Devices(string vg, IEnumerable<string> dmsetupTable) =>
        dmsetupTable.Select(l => l.IndexOf(": ", StringComparison.Ordinal) is > 0 and var c ? LvOf(vg, l[..c]) : null).OfType<string>().ToHashSet(StringComparer.Ordinal);

    /// <summary>
    /// The LV of a device-mapper name "VG-LV" (a '-' inside either doubled), or null for another
    /// VG's device or a sub-device such as "VG-LV-cow" or "VG-LV-real".
    /// </summary>
    public static string? LvOf(string vg, string dmName)
    {
        var parts = new List<string>();
        var part = new System.Text.StringBuilder();
        for (var i = 0; i < dmName.Length; i++)
        {
            if (dmName[i] == '-' && i + 1 < dmName.Length && dmName[i + 1] == '-')
            {
                part.Append('-');
                i++;
            }
            else if (dmName[i] == '-')
            {
                parts.Add(part.ToString());
                part.Clear();
            }
            else
            {
                part.Append(dmName[i]);
            }
        }

        parts.Add(part.ToString());
        return parts.Count == 2 && parts[0] == vg ? parts[1] : null;
    }

    private static DateTimeOffset FromMicros(long us) => DateTimeOffset.UnixEpoch.AddTicks(us * 10);
}
