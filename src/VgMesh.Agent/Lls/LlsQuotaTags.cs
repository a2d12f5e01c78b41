using System.Collections.Immutable;
using System.Globalization;

namespace VgMesh.Agent.Lls;

/// <summary>
/// Limits an operator sets for a container (<c>vgmesh lls quota set</c>) live in the VG's own
/// tags, <c>lls.quota=HOST/CONTAINER:bytes=N:volumes=N:snapshots=N:snapshot-bytes=N</c>, each
/// limit a number or <c>none</c>: written through the coordinator like every change, the same on
/// every host, kept across restarts, and read by the coordinator in the same report as the LVs
/// it checks. A limit the tag does not name is the one in the container's host's configuration.
/// </summary>
public static class LlsQuotaTags
{
    public const string Prefix = "lls.quota=";

    /// <summary>The limits a tag can name, in the order they are written.</summary>
    public static readonly ImmutableArray<string> Limits = ["bytes", "volumes", "snapshots", "snapshot-bytes"];

    public const string None = "none";

    /// <summary>A change's word for "back to the host's configuration".</summary>
    public const string Inherit = "inherit";

    /// <summary>The tag for an owner's set limits (null value: no limit); null when none is set.</summary>
    public static string? Format(string owner, IReadOnlyDictionary<string, long?> set)
    {
        ArgumentNullException.ThrowIfNull(set);
        return set.Count == 0 ? null
            : string.Join(':', Limits.Where(set.ContainsKey).Select(l => string.Create(CultureInfo.InvariantCulture, $"{l}={(set[l] is { } v ? v.ToString(CultureInfo.InvariantCulture) : None)}")).Prepend(Prefix + owner));
    }

    /// <summary>The owner and limits a tag names; null for any other tag or one this version cannot read (ignored, not guessed at).</summary>
    public static (string Owner, Dictionary<string, long?> Set)? Parse(string tag)
    {
        ArgumentNullException.ThrowIfNull(tag);
        if (!tag.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return null;
        }

        var parts = tag[Prefix.Length..].Split(':');
        var set = new Dictionary<string, long?>(StringComparer.Ordinal);
        foreach (var part in parts.Skip(1))
        {
            var eq = part.IndexOf('=', StringComparison.Ordinal);
            var (ok, value) = eq < 0 ? (false, null) : ParseValue(part[(eq + 1)..]);
            if (!ok || !Limits.Contains(part[..eq]) || (value > int.MaxValue && !part[..eq].EndsWith("bytes", StringComparison.Ordinal)))
            {
                return null;
            }

            set[part[..eq]] = value;
        }

        return parts[0].Length == 0 ? null : (parts[0], set);
    }

    /// <summary>A limit's value as written or asked for: a number, or <c>none</c> (no limit).</summary>
    public static (bool Ok, long? Value) ParseValue(string text) =>
        text == None ? (true, null)
        : long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? (true, n)
        : (false, null);

    /// <summary>The limits set for <paramref name="owner"/> in the VG's tags (empty: all from the host's configuration).</summary>
    public static Dictionary<string, long?> Find(IEnumerable<string>? vgTags, string owner) =>
        All(vgTags).TryGetValue(owner, out var set) ? set : new(StringComparer.Ordinal);

    /// <summary>Every owner's set limits, and the tag each came from.</summary>
    public static Dictionary<string, (Dictionary<string, long?> Set, string Tag)> AllTags(IEnumerable<string>? vgTags)
    {
        var all = new Dictionary<string, (Dictionary<string, long?>, string)>(StringComparer.Ordinal);
        foreach (var tag in vgTags ?? [])
        {
            if (Parse(tag) is var (owner, set))
            {
                all[owner] = (set, tag);
            }
        }

        return all;
    }

    public static Dictionary<string, Dictionary<string, long?>> All(IEnumerable<string>? vgTags) =>
        AllTags(vgTags).ToDictionary(kv => kv.Key, kv => kv.Value.Set, StringComparer.Ordinal);

    /// <summary>The quota in force: each limit the tag sets, the rest from <paramref name="configured"/>.</summary>
    public static LlsQuota Apply(LlsQuota configured, IReadOnlyDictionary<string, long?> set)
    {
        ArgumentNullException.ThrowIfNull(configured);
        ArgumentNullException.ThrowIfNull(set);
        long? Pick(string limit, long? fallback) => set.TryGetValue(limit, out var v) ? v : fallback;
        return new LlsQuota
        {
            MaxBytes = Pick("bytes", configured.MaxBytes),
            MaxVolumes = (int?)Pick("volumes", configured.MaxVolumes),
            MaxSnapshots = (int?)Pick("snapshots", configured.MaxSnapshots),
            MaxSnapshotBytes = Pick("snapshot-bytes", configured.MaxSnapshotBytes),
        };
    }

    /// <summary>
    /// Applies changes (<c>limit=N</c>, <c>limit=none</c>, <c>limit=inherit</c>) to the set limits.
    /// </summary>
    /// <exception cref="ArgumentException">A change names an unknown limit or value; nothing is applied.</exception>
    public static Dictionary<string, long?> Change(IReadOnlyDictionary<string, long?> set, IEnumerable<string> changes)
    {
        ArgumentNullException.ThrowIfNull(set);
        ArgumentNullException.ThrowIfNull(changes);
        var next = new Dictionary<string, long?>(set, StringComparer.Ordinal);
        foreach (var change in changes)
        {
            var eq = change.IndexOf('=', StringComparison.Ordinal);
            var (limit, text) = eq < 0 ? (change, "") : (change[..eq], change[(eq + 1)..]);
            if (!Limits.Contains(limit))
            {
                throw new ArgumentException($"'{limit}' is not a quota limit; use {string.Join(", ", Limits)}.", nameof(changes));
            }

            if (text == Inherit)
            {
                next.Remove(limit);
                continue;
            }

            var (ok, value) = ParseValue(text);
            if (!ok || (value > int.MaxValue && !limit.EndsWith("bytes", StringComparison.Ordinal)))
            {
                throw new ArgumentException($"'{text}' is not a value for the {limit} limit; give a number, '{None}' or '{Inherit}'.", nameof(changes));
            }

            next[limit] = value;
        }

        return next;
    }
}
