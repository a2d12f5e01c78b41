using System.Globalization;

namespace VgMesh.Lvm.OnDisk;

/// <summary>One LV as the metadata text has it: its size, and whether a top device of it maps exactly that size.</summary>
/// <param name="Uuid">The LV's id without dashes, as device-mapper uuids carry it.</param>
/// <param name="Plain">Every segment striped (linear included) and not a snapshot's copy-on-write store: its top device's size is the LV's size.</param>
public sealed record MetadataLv(string Name, string Uuid, long SizeBytes, bool Plain);

/// <summary>What a reader of the metadata text needs to compare it with this host's tables.</summary>
public sealed record VgMetadata(string Name, long Seqno, IReadOnlyList<MetadataLv> Lvs);

/// <summary>
/// Reads LVM's metadata text (the config format of lib/config: sections in braces, <c>key =
/// value</c>, strings in quotes, lists in brackets, <c># comments</c>) just far enough for the
/// VG's seqno and each LV's id, segments and size. Not a general parser: anything else is skipped.
/// </summary>
public static class MetadataText
{
    public static VgMetadata Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var path = new List<string>();
        string? vg = null;
        long seqno = -1, extentSectors = 0;
        var lvs = new Dictionary<string, LvFields>(StringComparer.Ordinal);
        var cowStores = new HashSet<string>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n'))
        {
            var l = StripComment(line).Trim();
            if (l.Length == 0)
            {
                continue;
            }

            if (l.EndsWith('{'))
            {
                var name = l[..^1].Trim();
                if (path.Count == 0)
                {
                    vg = name;
                }

                path.Add(name);
                continue;
            }

            if (l == "}")
            {
                if (path.Count > 0)
                {
                    path.RemoveAt(path.Count - 1);
                }

                continue;
            }

            var eq = l.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                continue;
            }

            var key = l[..eq].Trim();
            var value = l[(eq + 1)..].Trim();
            switch (path.Count)
            {
                case 1 when key == "seqno":
                    seqno = Number(value);
                    break;
                case 1 when key == "extent_size":
                    extentSectors = Number(value);
                    break;
                case 3 when path[1] == "logical_volumes" && key == "id":
                    Lv(lvs, path[2]).Id = Unquote(value).Replace("-", "", StringComparison.Ordinal);
                    break;
                case 4 when path[1] == "logical_volumes" && key == "extent_count":
                    Lv(lvs, path[2]).Extents += Number(value);
                    break;
                case 4 when path[1] == "logical_volumes" && key == "type":
                    Lv(lvs, path[2]).Plain &= Unquote(value) == "striped";
                    break;
                case 4 when path[1] == "logical_volumes" && key == "cow_store":
                    cowStores.Add(Unquote(value));
                    break;
                default:
                    break;
            }
        }

        if (vg is null || seqno < 0 || extentSectors <= 0)
        {
            throw new FormatException("not LVM metadata text: no VG section with seqno and extent_size");
        }

        return new VgMetadata(vg, seqno, lvs.Select(kv => new MetadataLv(kv.Key, kv.Value.Id, kv.Value.Extents * extentSectors * 512,
            kv.Value.Plain && !cowStores.Contains(kv.Key))).OrderBy(l => l.Name, StringComparer.Ordinal).ToList());
    }

    private sealed class LvFields
    {
        public string Id { get; set; } = "";

        public long Extents { get; set; }

        public bool Plain { get; set; } = true;
    }

    private static LvFields Lv(Dictionary<string, LvFields> lvs, string name) =>
        lvs.TryGetValue(name, out var f) ? f : lvs[name] = new LvFields();

    private static string StripComment(string line)
    {
        var quoted = false;
        for (var i = 0; i < line.Length; i++)
        {
            if (line[i] == '"')
            {
                quoted = !quoted;
            }
            else if (line[i] == '#' && !quoted)
            {
                return line[..i];
            }
        }

        return line;
    }

    private static long Number(string value) => long.Parse(value, NumberStyles.None, CultureInfo.InvariantCulture);

    private static string Unquote(string value) => value.Length >= 2 && value[0] == '"' && value[^1] == '"' ? value[1..^1] : value;
}
