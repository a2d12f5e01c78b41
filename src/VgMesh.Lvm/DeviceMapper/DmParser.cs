using System.Globalization;

namespace VgMesh.Lvm.DeviceMapper;

/// <summary>Parses dmsetup's text output: <c>info -c</c>, <c>table</c> and <c>status</c>.</summary>
public static class DmParser
{
    /// <summary>The columns <see cref="ParseInfo"/> reads, in order.</summary>
    public static readonly string[] InfoArgs = ["info", "-c", "--noheadings", "--separator", "|", "-o", "name,uuid,major,minor,open,attr,segments,events"];

    private const string NoDevices = "No devices found";

    public static IReadOnlyList<DmDevice> ParseInfo(string text)
    {
        var devices = new List<DmDevice>();
        foreach (var line in Lines(text))
        {
            var f = line.Split('|');
            if (f.Length != 8 || f[5].Length != 4)
            {
                throw new FormatException($"dmsetup info line '{line}' does not have the 8 columns asked for");
            }

            var attr = f[5];
            devices.Add(new DmDevice(
                f[0], f[1], Int(f[2]), Int(f[3]), Int(f[4]),
                LiveTable: attr[0] == 'L', InactiveTable: attr[1] == 'I', Suspended: attr[2] == 's', ReadOnly: attr[3] == 'r',
                Segments: Int(f[6]), Events: Int(f[7])));
        }

        return devices;
    }

    /// <summary>Parses <c>dmsetup table</c> for all devices (<c>name: start length target args</c>).</summary>
    public static IReadOnlyList<DmTableLine> ParseTable(string text) =>
        Lines(text).Select(line =>
        {
            var (device, start, length, type, args) = SplitNamed(line);
            return new DmTableLine(device, start, length, ParseTarget(type, args));
        }).ToList();

    /// <summary>Parses <c>dmsetup table NAME</c>, whose lines carry no device name.</summary>
    public static IReadOnlyList<DmTableLine> ParseTable(string device, string text) =>
        Lines(text).Select(line =>
        {
            var (start, length, type, args) = SplitUnnamed(line);
            return new DmTableLine(device, start, length, ParseTarget(type, args));
        }).ToList();

    public static IReadOnlyList<DmStatusLine> ParseStatus(string text) =>
        Lines(text).Select(line =>
        {
            var (device, start, length, type, args) = SplitNamed(line);
            return new DmStatusLine(device, start, length, type, ParseTargetStatus(type, args));
        }).ToList();

    public static IReadOnlyList<DmStatusLine> ParseStatus(string device, string text) =>
        Lines(text).Select(line =>
        {
            var (start, length, type, args) = SplitUnnamed(line);
            return new DmStatusLine(device, start, length, type, ParseTargetStatus(type, args));
        }).ToList();

    public static DmTarget ParseTarget(string type, IReadOnlyList<string> a)
    {
        ArgumentNullException.ThrowIfNull(a);
        try
        {
            return type switch
            {
                "linear" => new LinearTarget(a[0], Long(a[1])),
                "striped" => new StripedTarget(
                    Int(a[0]),
                    Long(a[1]),
                    Enumerable.Range(0, Int(a[0])).Select(i => (a[2 + (2 * i)], Long(a[3 + (2 * i)]))).ToList()),
                "snapshot" or "snapshot-merge" => new SnapshotTarget(a[0], a[1], a[2] is "P" or "PO", Long(a[3]), type == "snapshot-merge"),
                "snapshot-origin" => new SnapshotOriginTarget(a[0]),
                "thin" => new ThinTarget(a[0], Long(a[1]), a.Count > 2 ? a[2] : null),
                "thin-pool" => new ThinPoolTarget(a[0], a[1], Long(a[2]), Long(a[3]), a.Count > 4 ? a.Skip(5).Take(Int(a[4])).ToList() : []),
                "error" => new ErrorTarget(),
                _ => new OtherTarget(type, a),
            };
        }
        catch (Exception e) when (e is ArgumentOutOfRangeException or FormatException)
        {
            throw new FormatException($"dmsetup table: '{type} {string.Join(' ', a)}' is not a valid {type} table", e);
        }
    }

    /// <summary>
    /// <c>&lt;#features&gt; [features] &lt;#handler args&gt; [args] &lt;#groups&gt; &lt;next group&gt;</c>, then per group
    /// <c>&lt;state&gt; &lt;#selector status args&gt; [args] &lt;#paths&gt; &lt;#selector args per path&gt;</c> and per path
    /// <c>&lt;dev&gt; &lt;A|F&gt; &lt;fail count&gt; [selector args]</c>.
    /// </summary>
    private static MultipathStatus ParseMultipath(IReadOnlyList<string> a)
    {
        var i = 0;
        i += 1 + Int(a[i]);
        i += 1 + Int(a[i]);
        var groups = Int(a[i]);
        i += 2;
        var paths = new List<MultipathPath>();
        for (var g = 0; g < groups; g++)
        {
            i++; // the group's state
            i += 1 + Int(a[i]);
            var (count, selectorArgs) = (Int(a[i]), Int(a[i + 1]));
            i += 2;
            for (var p = 0; p < count; p++, i += 3 + selectorArgs)
            {
                paths.Add(new MultipathPath(a[i], a[i + 1] == "A", Int(a[i + 2])));
            }
        }

        return new MultipathStatus(paths);
    }

    public static DmTargetStatus ParseTargetStatus(string type, IReadOnlyList<string> a)
    {
        ArgumentNullException.ThrowIfNull(a);
        var text = string.Join(' ', a);
        switch (type)
        {
            case "multipath":
                try
                {
                    return ParseMultipath(a);
                }
                catch (Exception e) when (e is ArgumentOutOfRangeException or FormatException)
                {
                    return new RawStatus(text);
                }

            case "snapshot" or "snapshot-merge":
                if (text == "Invalid")
                {
                    return new SnapshotStatus(SnapshotHealth.Invalid, 0, 0, 0);
                }

                if (text == "Overflow")
                {
                    return new SnapshotStatus(SnapshotHealth.Overflow, 0, 0, 0);
                }

                if (text == "Merge failed")
                {
                    return new SnapshotStatus(SnapshotHealth.MergeFailed, 0, 0, 0);
                }

                if (a.Count >= 2 && a[0].Split('/') is [var used, var total])
                {
                    return new SnapshotStatus(SnapshotHealth.Valid, Long(used), Long(total), Long(a[1]));
                }

                return new SnapshotStatus(SnapshotHealth.Unknown, 0, 0, 0);
            case "thin":
                if (text == "Fail")
                {
                    return new ThinStatus(true, 0, null);
                }

                // "-" as the highest mapped sector: nothing mapped yet.
                return new ThinStatus(false, Long(a[0]), a.Count > 1 && a[1] != "-" ? Long(a[1]) : null);
            case "thin-pool":
                if (text == "Fail")
                {
                    return new ThinPoolStatus(true, 0, 0, 0, 0, 0, "fail", []);
                }

                var (um, tm) = Ratio(a[1]);
                var (ud, td) = Ratio(a[2]);
                return new ThinPoolStatus(false, Long(a[0]), um, tm, ud, td, a[4], a.Skip(5).ToList());
            default:
                return new RawStatus(text);
        }
    }

    private static (long Used, long Total) Ratio(string s) =>
        s.Split('/') is [var u, var t] ? (Long(u), Long(t)) : throw new FormatException($"'{s}' is not used/total");

    private static (string Device, long Start, long Length, string Type, string[] Args) SplitNamed(string line)
    {
        // Names made by LVM never contain ": " (':' is not a valid LVM name character).
        var colon = line.IndexOf(": ", StringComparison.Ordinal);
        if (colon <= 0)
        {
            throw new FormatException($"dmsetup line '{line}' has no 'name: ' prefix");
        }

        var (start, length, type, args) = SplitUnnamed(line[(colon + 2)..]);
        return (line[..colon], start, length, type, args);
    }

    private static (long Start, long Length, string Type, string[] Args) SplitUnnamed(string line)
    {
        var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (f.Length < 3)
        {
            throw new FormatException($"dmsetup line '{line}' lacks start, length and target");
        }

        return (Long(f[0]), Long(f[1]), f[2], f[3..]);
    }

    private static IEnumerable<string> Lines(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(l => l != NoDevices);

    private static long Long(string s) => long.Parse(s, NumberStyles.Integer, CultureInfo.InvariantCulture);

    private static int Int(string s) => int.Parse(s, NumberStyles.Integer, CultureInfo.InvariantCulture);
}
