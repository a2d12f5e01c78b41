using System.Text.Json;
using VgMesh.Cluster.Serialization;

namespace VgMesh.Cluster.Events;

/// <summary>
/// The host's applied position in a small file, replaced atomically (written beside, flushed to
/// disk, renamed over), so a crash leaves either the old position or the new one, never half.
/// </summary>
public sealed class AppliedStore(string path)
{
    public string Path { get; } = path;

    public AppliedPosition Load()
    {
        if (!File.Exists(Path))
        {
            return AppliedPosition.Start;
        }

        try
        {
            return JsonSerializer.Deserialize(File.ReadAllBytes(Path), ClusterJsonContext.Default.AppliedPosition) ?? AppliedPosition.Start;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"the applied-events position in {Path} is unreadable ({e.Message}); move the file away to re-read every event from the journal.", e);
        }
    }

    public void Save(AppliedPosition position)
    {
        var dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Path))!;
        Directory.CreateDirectory(dir);
        var tmp = Path + ".tmp";
        using (var f = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            JsonSerializer.Serialize(f, position, ClusterJsonContext.Default.AppliedPosition);
            f.Flush(flushToDisk: true);
        }

        File.Move(tmp, Path, overwrite: true);
    }
}
