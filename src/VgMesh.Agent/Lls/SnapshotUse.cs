using System.Text.Json;

namespace VgMesh.Agent.Lls;

/// <summary>
/// When each container snapshot of this host was last seen open (or first seen), kept on disk
/// so a restart does not make an old snapshot look new. The host of the container watches its
/// snapshots: it is the only one where they are ever active, so "open nowhere in the cluster"
/// is "not open here".
/// </summary>
public sealed class SnapshotUse(string file)
{
    private readonly Lock _lock = new();
    private Dictionary<string, DateTimeOffset>? _lastUsed;
    private readonly HashSet<string> _openNow = new(StringComparer.Ordinal);

    /// <summary>Records one reading: <paramref name="snapshots"/> are all of them, with whether each is open now.</summary>
    public void Observe(IEnumerable<(string Lv, bool Open)> snapshots, DateTimeOffset now)
    {
        lock (_lock)
        {
            var all = Load();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            var changed = false;
            _openNow.Clear();
            foreach (var (lv, open) in snapshots)
            {
                seen.Add(lv);
                if (open)
                {
                    _openNow.Add(lv);
                }

                if (open || !all.ContainsKey(lv))
                {
                    all[lv] = now;
                    changed = true;
                }
            }

            foreach (var gone in all.Keys.Where(k => !seen.Contains(k)).ToList())
            {
                all.Remove(gone);
                changed = true;
            }

            if (changed)
            {
                var tmp = file + ".tmp";
                File.WriteAllText(tmp, JsonSerializer.Serialize(all, AgentJsonContext.Default.DictionaryStringDateTimeOffset));
                File.Move(tmp, file, overwrite: true);
            }
        }
    }

    /// <summary>When the snapshot may be collected; null while it is open or not yet seen.</summary>
    public DateTimeOffset? CollectableAt(string lv, TimeSpan after)
    {
        lock (_lock)
        {
            return _openNow.Contains(lv) || !Load().TryGetValue(lv, out var last) ? null : last + after;
        }
    }

    private Dictionary<string, DateTimeOffset> Load() =>
        _lastUsed ??= File.Exists(file) ? JsonSerializer.Deserialize(File.ReadAllText(file), AgentJsonContext.Default.DictionaryStringDateTimeOffset) ?? [] : [];
}
