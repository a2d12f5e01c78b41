namespace VgMesh.Agent;

/// <summary>
/// One vgmeshd per state directory, held for the life of the process: a second one would delete
/// the first one's socket, fight over its ports and apply every event twice. .NET takes an
/// advisory flock for <see cref="FileShare.None"/> on Linux; the kernel drops it when the process
/// ends however it ends, so a crash leaves no stale lock.
/// </summary>
public sealed class InstanceLock : IDisposable
{
    private readonly FileStream _file;

    private InstanceLock(FileStream file) => _file = file;

    public static string PathIn(string stateDir) => Path.Combine(stateDir, "vgmeshd.lock");

    public static string PidPathIn(string stateDir) => Path.Combine(stateDir, "vgmeshd.pid");

    /// <summary>Takes the lock or says which process has it.</summary>
    /// <exception cref="InvalidOperationException">Another process holds it.</exception>
    public static InstanceLock Take(string stateDir, int pid)
    {
        Directory.CreateDirectory(stateDir);
        var path = PathIn(stateDir);
        FileStream file;
        try
        {
            file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException)
        {
            var holder = ReadHolder(PidPathIn(stateDir));
            throw new InvalidOperationException(
                $"another vgmeshd{(holder is null ? "" : $" (pid {holder})")} runs with state directory {stateDir}; stop it first (systemctl stop vgmeshd) or give this one its own StateDir");
        }

        // Beside the lock, not in it: .NET takes a shared flock to read any file, which the
        // holder's exclusive one would refuse.
        File.WriteAllText(PidPathIn(stateDir), $"{pid}\n");
        return new InstanceLock(file);
    }

    private static string? ReadHolder(string path)
    {
        try
        {
            var line = File.ReadAllText(path).Trim();
            return line.Length == 0 ? null : line;
        }
        catch (IOException)
        {
            return null;
        }
    }

    public void Dispose() => _file.Dispose();
}
