using System.Globalization;
using System.Text.Json;

namespace VgMesh.Agent.Lls;

/// <summary>A device rule given to a container.</summary>
public readonly record struct Grant(DeviceNumber Device, bool ReadOnly);

/// <summary>
/// The device rules this host has given each container (volume name to <c>MAJOR:MINOR r|rw</c>),
/// kept on disk: a rule must be taken back even when its LV vanished meanwhile (removed by an
/// operator, or while the agent was down), since the next LV may get the same minor.
/// </summary>
public sealed class LlsGrants(string file)
{
    private readonly Lock _lock = new();
    private Dictionary<string, Dictionary<string, string>>? _grants;

    public IReadOnlyDictionary<string, Grant> Of(string container)
    {
        lock (_lock)
        {
            return Load().GetValueOrDefault(container)?.ToDictionary(g => g.Key, g => Parse(g.Value), StringComparer.Ordinal)
                ?? new Dictionary<string, Grant>(StringComparer.Ordinal);
        }
    }

    public void Set(string container, string name, Grant grant) => Change(container, g => g[name] = $"{grant.Device} {(grant.ReadOnly ? "r" : "rw")}");

    public void Remove(string container, string name) => Change(container, g => g.Remove(name));

    private void Change(string container, Action<Dictionary<string, string>> change)
    {
        lock (_lock)
        {
            var all = Load();
            if (!all.TryGetValue(container, out var mine))
            {
                all[container] = mine = new Dictionary<string, string>(StringComparer.Ordinal);
            }

            change(mine);
            var tmp = file + ".tmp";
            File.WriteAllText(tmp, JsonSerializer.Serialize(all, AgentJsonContext.Default.DictionaryStringDictionaryStringString));
            File.Move(tmp, file, overwrite: true);
        }
    }

    private Dictionary<string, Dictionary<string, string>> Load() =>
        _grants ??= File.Exists(file) ? JsonSerializer.Deserialize(File.ReadAllText(file), AgentJsonContext.Default.DictionaryStringDictionaryStringString) ?? [] : [];

    private static Grant Parse(string text) => text.Split(':', ' ') is [var a, var b, var access]
        ? new Grant(new DeviceNumber(int.Parse(a, CultureInfo.InvariantCulture), int.Parse(b, CultureInfo.InvariantCulture)), access == "r")
        : throw new FormatException($"device grant '{text}'");
}
