using System.Buffers.Binary;
using System.Globalization;
using System.Net.Sockets;
using VgMesh.Agent.Operations;

namespace VgMesh.Agent.Lls;

/// <summary>Who is calling on a container's socket: the container, as the kernel says.</summary>
public sealed record LlsCaller(string Host, string Container, int Pid)
{
    public string Owner => LlsNames.Owner(Host, Container);
}

/// <summary>
/// Identifies the process at the other end of a container's socket from the kernel alone:
/// <c>SO_PEERCRED</c> gives its pid (as of connect), <c>/proc/PID/cgroup</c> the cgroup it runs
/// in, which names the container (LXC: <c>/lxc.payload.NAME</c>, which the container may divide
/// but never leave). Nothing in the request counts.
/// <para>
/// Pid reuse: kernel 6.1 has no <c>SO_PEERPIDFD</c>. Each container has a socket of its own,
/// reachable only inside it, and the container read from the cgroup must be the socket's: a
/// pid reused by a process of another container fails that test, so the worst a reuse can do
/// is refuse a request. The process's start time is read before and after the cgroup, so the
/// cgroup read belongs to one process.
/// </para>
/// </summary>
public static class PeerIdentity
{
    private const int SolSocket = 1;
    private const int SoPeerCred = 17;

    /// <summary>The peer's pid (struct ucred's first field), or 0 when the kernel gave none.</summary>
    public static int PeerPid(Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        Span<byte> ucred = stackalloc byte[12];
        var n = socket.GetRawSocketOption(SolSocket, SoPeerCred, ucred);
        return n >= 4 ? BinaryPrimitives.ReadInt32LittleEndian(ucred) : 0;
    }

    /// <summary>The cgroup v2 path in a <c>/proc/PID/cgroup</c> text (the <c>0::</c> line), or null.</summary>
    public static string? UnifiedCgroup(string procCgroup)
    {
        ArgumentNullException.ThrowIfNull(procCgroup);
        return procCgroup.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith("0::", StringComparison.Ordinal))?[3..];
    }

    /// <summary>The registered container whose cgroup holds <paramref name="cgroup"/> (itself or below it), or null.</summary>
    public static LlsContainer? ContainerOf(string cgroup, IEnumerable<LlsContainer> containers)
    {
        ArgumentNullException.ThrowIfNull(cgroup);
        return containers.FirstOrDefault(c => cgroup == c.CgroupPath || cgroup.StartsWith(c.CgroupPath + "/", StringComparison.Ordinal));
    }

    /// <summary>Field 22 of <c>/proc/PID/stat</c> (start time in clock ticks since boot), read after the command name's closing parenthesis.</summary>
    public static long? StartTime(string procStat)
    {
        ArgumentNullException.ThrowIfNull(procStat);
        var close = procStat.LastIndexOf(')');
        if (close < 0)
        {
            return null;
        }

        // After ") ": field 3 (state) is index 0, so field 22 is index 19.
        var fields = procStat[(close + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return fields.Length > 19 && long.TryParse(fields[19], NumberStyles.None, CultureInfo.InvariantCulture, out var t) ? t : null;
    }

    /// <summary>The caller on <paramref name="socketContainer"/>'s socket, or <see cref="Forbidden"/> with the reason.</summary>
    public static LlsCaller Identify(int pid, string socketContainer, string host, LlsOptions options, string procRoot = "/proc")
    {
        ArgumentNullException.ThrowIfNull(options);
        if (pid <= 0)
        {
            throw new Forbidden("the kernel gave no process for this connection; LLS answers processes inside registered containers only.");
        }

        string? cgroup;
        try
        {
            var before = StartTime(File.ReadAllText($"{procRoot}/{pid}/stat"));
            cgroup = UnifiedCgroup(File.ReadAllText($"{procRoot}/{pid}/cgroup"));
            var after = StartTime(File.ReadAllText($"{procRoot}/{pid}/stat"));
            if (before is null || before != after)
            {
                cgroup = null;
            }
        }
        catch (IOException)
        {
            cgroup = null;
        }

        if (cgroup is null)
        {
            throw new Forbidden($"process {pid} ended before it could be identified; try again.");
        }

        var container = ContainerOf(cgroup, options.Containers);
        if (container is null)
        {
            throw new Forbidden($"process {pid} (cgroup {cgroup}) is not in a registered container; LLS serves only the containers in this host's Lls.Containers setting.");
        }

        if (container.Name != socketContainer)
        {
            throw new Forbidden($"process {pid} is in container {container.Name}, not {socketContainer}, whose socket it used; each container uses its own /lls.");
        }

        return new LlsCaller(host, container.Name, pid);
    }
}
