using System.Globalization;

namespace VgMesh.Lvm.OnDisk;

/// <summary>One LV as the metadata text has it: its size, and whether a top device of it maps exactly that size.</summary>
/// <param name="Uuid">The LV's id without dashes, as device-mapper uuids carry it.</param>
/// <param name="Plain">Every segment striped (linear included) and not a snapshot's copy-on-write store: its top device's size is the LV's size.</param>
public sealed record MetadataLv(string Name, string Uuid, long SizeBytes, bool Plain)
{
    /// <summary>The LV's tags, in the metadata's order.</summary>
    public IReadOnlyList<string> Tags { get; init; } = [];

    /// <summary>
    /// Listed by a plain <c>lvs</c>. LVM marks a classic snapshot's <c>snapshotN</c> VISIBLE and
    /// its store not, and shows the store under the snapshot's name: so the stores, and every
    /// other LV with VISIBLE (not pools' sub-LVs).
    /// </summary>
    public bool Visible { get; init; }

    /// <summary>A classic snapshot as <c>lvs</c> shows it: the copy-on-write store a snapshot segment names (its size is the store's).</summary>
    public bool IsSnapshot { get; init; }
}

/// <summary>One run of an LV's extents on one PV: a line of its <c>linear</c> table.</summary>
/// <param name="Pv">The PV's name inside the metadata (<c>pv0</c>, ...).</param>
public sealed record LinearSegment(long StartExtent, long Extents, string Pv, long PvStartExtent);

/// <summary>A PV as the metadata text has it.</summary>
/// <param name="Id">LVM's PV uuid, with its dashes (as <c>pvs -o pv_uuid</c> shows it).</param>
/// <param name="PeStartSectors">Where its first extent starts, in 512-byte sectors.</param>
public sealed record MetadataPv(string Name, string Id, long PeStartSectors);

/// <summary>What a reader of the metadata text needs to compare it with this host's tables.</summary>
public sealed record VgMetadata(string Name, long Seqno, IReadOnlyList<MetadataLv> Lvs)
{
    public long ExtentSectors { get; init; }

    /// <summary>The VG's PVs by their name in the metadata.</summary>
    public IReadOnlyDictionary<string, MetadataPv> Pvs { get; init; } = new Dictionary<string, MetadataPv>();

    /// <summary>
    /// The segments, in order, of each LV mapped by linear segments only (every segment
    /// <c>striped</c> with one stripe, together covering its extents from the first): what
    /// LVM's own table of it is. LVs of any other kind are not here.
    /// </summary>
    public IReadOnlyDictionary<string, IReadOnlyList<LinearSegment>> Linear { get; init; } = new Dictionary<string, IReadOnlyList<LinearSegment>>();

    /// <summary>
    /// The same for the copy-on-write stores of classic snapshots (by the snapshot's name), made
    /// of linear segments only: the table of the snapshot's <c>-cow</c> layer. Kept apart from
    /// <see cref="Linear"/>, whose LVs can be activated as one linear device.
    /// </summary>
    public IReadOnlyDictionary<string, IReadOnlyList<LinearSegment>> Stores { get; init; } = new Dictionary<string, IReadOnlyList<LinearSegment>>();

    /// <summary>The VG's id without dashes, as device-mapper uuids carry it (<c>LVM-</c> + VG id + LV id).</summary>
    public string Uuid { get; init; } = "";

    /// <summary>The VG's <c>lock_type</c> (<c>sanlock</c>, <c>dlm</c>); null for a VG without lvmlockd.</summary>
    public string? LockType { get; init; }

    /// <summary>The VG's tags (where operators set LLS quotas).</summary>
    public IReadOnlyList<string> Tags { get; init; } = [];

    /// <summary>
    /// The LVs whose activation is only a device with their <see cref="Linear"/> table: readable
    /// and writable, visible, no flags (no activation skip), and no snapshot's origin (LVM stacks
    /// an origin on a <c>-real</c> layer). Their device can be made with one <c>dmsetup create</c>.
    /// </summary>
    public IReadOnlySet<string> PlainWritable { get; init; } = new HashSet<string>();
}

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
        var snapshotSegments = new HashSet<string>(StringComparer.Ordinal); // the snapshotN LVs
        var pvs = new Dictionary<string, (string Id, long PeStart)>(StringComparer.Ordinal);
        var origins = new HashSet<string>(StringComparer.Ordinal);
        string vgId = "";
        string? lockType = null;
        IReadOnlyList<string> vgTags = [];
        string? pending = null; // a list value that goes on over the next lines ("stripes = [")
        foreach (var line in text.Split('\n'))
        {
            var l = StripComment(line).Trim();
            if (pending is not null)
            {
                pending += " " + l;
                if (!l.Contains(']', StringComparison.Ordinal))
                {
                    continue;
                }

                (l, pending) = (pending, null);
            }
            else if (l.Contains("= [", StringComparison.Ordinal) && !l.Contains(']', StringComparison.Ordinal))
            {
                pending = l;
                continue;
            }

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
                case 1 when key == "id":
                    vgId = Unquote(value).Replace("-", "", StringComparison.Ordinal);
                    break;
                case 1 when key == "lock_type":
                    lockType = Unquote(value);
                    break;
                case 1 when key == "tags":
                    vgTags = TagsOf(value);
                    break;
                case 3 when path[1] == "logical_volumes" && key == "tags":
                    Lv(lvs, path[2]).Tags = TagsOf(value);
                    break;
                case 3 when path[1] == "logical_volumes" && key == "status":
                    Lv(lvs, path[2]).Status = value;
                    break;
                case 3 when path[1] == "logical_volumes" && key == "flags":
                    Lv(lvs, path[2]).Flags = value;
                    break;
                case 4 when path[1] == "logical_volumes" && key == "origin":
                    origins.Add(Unquote(value));
                    break;
                case 3 when path[1] == "physical_volumes" && key == "id":
                    pvs[path[2]] = (Unquote(value), pvs.GetValueOrDefault(path[2]).PeStart);
                    break;
                case 3 when path[1] == "physical_volumes" && key == "pe_start":
                    pvs[path[2]] = (pvs.GetValueOrDefault(path[2]).Id ?? "", Number(value));
                    break;
                case 3 when path[1] == "logical_volumes" && key == "id":
                    Lv(lvs, path[2]).Id = Unquote(value).Replace("-", "", StringComparison.Ordinal);
                    break;
                case 4 when path[1] == "logical_volumes" && key == "extent_count":
                    Lv(lvs, path[2]).Extents += Number(value);
                    Seg(lvs, path[2], path[3]).Extents = Number(value);
                    break;
                case 4 when path[1] == "logical_volumes" && key == "start_extent":
                    Seg(lvs, path[2], path[3]).Start = Number(value);
                    break;
                case 4 when path[1] == "logical_volumes" && key == "stripe_count":
                    Seg(lvs, path[2], path[3]).Stripes = Number(value);
                    break;
                case 4 when path[1] == "logical_volumes" && key == "stripes":
                    Seg(lvs, path[2], path[3]).Legs = value;
                    break;
                case 4 when path[1] == "logical_volumes" && key == "type":
                    Lv(lvs, path[2]).Plain &= Unquote(value) == "striped";
                    Seg(lvs, path[2], path[3]).Type = Unquote(value);
                    if (Unquote(value) == "snapshot")
                    {
                        snapshotSegments.Add(path[2]);
                    }

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

        var all = lvs.Select(kv => (kv.Key, Segments: LinearOf(kv.Value, pvs))).Where(x => x.Segments is not null)
            .ToDictionary(x => x.Key, x => (IReadOnlyList<LinearSegment>)x.Segments!, StringComparer.Ordinal);
        var linear = all.Where(kv => !cowStores.Contains(kv.Key)).ToDictionary(StringComparer.Ordinal);
        return new VgMetadata(vg, seqno, lvs.Select(kv => new MetadataLv(kv.Key, kv.Value.Id, kv.Value.Extents * extentSectors * 512,
            kv.Value.Plain && !cowStores.Contains(kv.Key))
        {
            Tags = kv.Value.Tags,
            Visible = cowStores.Contains(kv.Key) || (ListOf(kv.Value.Status).Contains("VISIBLE") && !snapshotSegments.Contains(kv.Key)),
            IsSnapshot = cowStores.Contains(kv.Key),
        }).OrderBy(l => l.Name, StringComparer.Ordinal).ToList())
        {
            Tags = vgTags,
            ExtentSectors = extentSectors,
            Pvs = pvs.ToDictionary(kv => kv.Key, kv => new MetadataPv(kv.Key, kv.Value.Id ?? "", kv.Value.PeStart), StringComparer.Ordinal),
            Linear = linear,
            Stores = all.Where(kv => cowStores.Contains(kv.Key)).ToDictionary(StringComparer.Ordinal),
            Uuid = vgId,
            LockType = lockType,
            PlainWritable = linear.Keys.Where(lv => !origins.Contains(lv) && ListOf(lvs[lv].Flags).Count == 0 &&
                ListOf(lvs[lv].Status) is var status && status.Contains("READ") && status.Contains("WRITE") && status.Contains("VISIBLE")).ToHashSet(StringComparer.Ordinal),
        };
    }

    /// <summary>A list value's strings in their order (tags: LVM keeps them as given).</summary>
    private static List<string> TagsOf(string value) =>
        [.. value.Trim('[', ']', ' ').Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(Unquote)];

    /// <summary>The strings of a list value (<c>["READ", "WRITE"]</c>).</summary>
    private static HashSet<string> ListOf(string? value) =>
        value is null ? [] : value.Trim('[', ']', ' ').Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(Unquote).ToHashSet(StringComparer.Ordinal);

    /// <summary>The LV's segments as linear runs, when every one is a single stripe on a known PV and together they cover its extents from the first; else null.</summary>
    private static List<LinearSegment>? LinearOf(LvFields lv, Dictionary<string, (string Id, long PeStart)> pvs)
    {
        var segments = new List<LinearSegment>();
        var next = 0L;
        foreach (var s in lv.Segments.Values.OrderBy(s => s.Start))
        {
            var legs = s.Legs?.Trim('[', ']', ' ').Split(',', StringSplitOptions.TrimEntries);
            if (s.Type != "striped" || s.Stripes != 1 || s.Start != next || s.Extents <= 0 || legs is not { Length: 2 } ||
                !pvs.ContainsKey(Unquote(legs[0])) || !long.TryParse(legs[1], NumberStyles.None, CultureInfo.InvariantCulture, out var at))
            {
                return null;
            }

            segments.Add(new LinearSegment(s.Start, s.Extents, Unquote(legs[0]), at));
            next += s.Extents;
        }

        return segments.Count > 0 && next == lv.Extents ? segments : null;
    }

    private sealed class LvFields
    {
        public string Id { get; set; } = "";

        public long Extents { get; set; }

        public bool Plain { get; set; } = true;

        public Dictionary<string, SegmentFields> Segments { get; } = new(StringComparer.Ordinal);

        public string? Status { get; set; }

        public string? Flags { get; set; }

        public IReadOnlyList<string> Tags { get; set; } = [];
    }

    private sealed class SegmentFields
    {
        public long Start { get; set; } = -1;

        public long Extents { get; set; }

        public string Type { get; set; } = "";

        public long Stripes { get; set; }

        public string? Legs { get; set; }
    }

    private static LvFields Lv(Dictionary<string, LvFields> lvs, string name) =>
        lvs.TryGetValue(name, out var f) ? f : lvs[name] = new LvFields();

    private static SegmentFields Seg(Dictionary<string, LvFields> lvs, string lv, string segment)
    {
        var segments = Lv(lvs, lv).Segments;
        return segments.TryGetValue(segment, out var f) ? f : segments[segment] = new SegmentFields();
    }

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
