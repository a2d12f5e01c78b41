using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using VgMesh.Lvm.Commands;

namespace VgMesh.Agent.Lls;

/// <summary>A block device's numbers.</summary>
public readonly record struct DeviceNumber(int Major, int Minor)
{
    public override string ToString() => $"{Major}:{Minor}";
}

/// <summary>
/// Gives a container the device node of one of its volumes and takes it back (LXC): the node in
/// the container's own <c>/dev</c> (reached through its init's <c>/proc/PID/root</c>) and the
/// device rule in its cgroup (<c>lxc-cgroup devices.allow</c>, which LXC's monitor turns into a
/// new BPF program at once). The rule is what protects: a node the container makes itself of
/// another device is refused by the kernel. The rule goes before the LV does: a minor number is
/// reused by the next LV activated, which may be another container's.
/// </summary>
public sealed partial class ContainerDevices(LlsOptions options, TimeProvider time, ILogger<ContainerDevices> logger)
{
    /// <summary>The error code of a request for a container that is not running.</summary>
    public const string ContainerDown = "container-down";

    /// <summary>
    /// The container's device directory as this host sees it, through its init process (one
    /// <c>lxc-info</c>): resolved once by the caller and handed to the calls below.
    /// </summary>
    public async Task<string> DeviceDirAsync(string container, CancellationToken ct)
    {
        var r = await RunAsync(["lxc-info", "--name", container, "--pid", "--no-humanize"], container, ct).ConfigureAwait(false);
        if (!int.TryParse(r.Stdout.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) || pid <= 0)
        {
            throw new Operations.OperationRefused(ContainerDown, $"container {container} is not running (lxc-info gave no init pid); start it first (lxc-start -n {container}).");
        }

        // The container's root may have made any of these a symbolic link, and an absolute one
        // under /proc/PID/root resolves against the agent's own root: /dev/lls -> /etc would
        // have the agent make and delete nodes in the host's /etc. Refused, whatever it points to.
        var root = $"/proc/{pid}/root";
        var path = root;
        foreach (var part in options.DeviceDir.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            path = $"{path}/{part}";
            if (new FileInfo(path).LinkTarget is not null)
            {
                throw new Operations.OperationRefused("container-error", $"{path[root.Length..]} in container {container} is a symbolic link; remove it (the agent makes {options.DeviceDir} itself).");
            }
        }

        return path;
    }

    /// <summary>Makes (or remakes) the node <c>DeviceDir/NAME</c> and allows it, read-only or read-write.</summary>
    public async Task DeliverAsync(string container, string dir, string name, DeviceNumber device, bool readOnly, CancellationToken ct)
    {
        // Allowed first, with the access wanted only: a rule left from read-write is taken away.
        if (readOnly)
        {
            await RuleAsync(container, "devices.deny", device, "rw", ct).ConfigureAwait(false);
        }

        await RuleAsync(container, "devices.allow", device, readOnly ? "r" : "rw", ct).ConfigureAwait(false);
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, name);
        if (File.Exists(path))
        {
            File.Delete(path);
        }

        // Mode 0600 (0400 read-only): the container's root only, like the host's own nodes.
        var mode = 0x6000u | (readOnly ? 0x100u : 0x180u); // S_IFBLK | mode bits
        if (Mknod(path, mode, MakeDev(device)) != 0)
        {
            throw new IOException($"mknod {path} ({device}) failed: errno {Marshal.GetLastPInvokeError()}");
        }

        LogDelivered(logger, container, name, device, readOnly);
    }

    /// <summary>Takes a volume's rule and node away (a missing node is no error).</summary>
    public async Task RevokeAsync(string container, string dir, string name, DeviceNumber? device, CancellationToken ct)
    {
        if (device is { } d)
        {
            await RuleAsync(container, "devices.deny", d, "rw", ct).ConfigureAwait(false);
            await RuleAsync(container, "devices.deny", d, "r", ct).ConfigureAwait(false);
        }

        File.Delete(Path.Combine(dir, name));
        LogRevoked(logger, container, name, device);
    }

    /// <summary>The names of the nodes in the container's device directory.</summary>
    public static IReadOnlyList<string> Nodes(string dir) =>
        Directory.Exists(dir) ? Directory.EnumerateFiles(dir).Select(Path.GetFileName).OfType<string>().ToList() : [];

    // A deny cancels only the allow with the identical access string (lab-recipe): both are sent.
    private Task<ProcessResult> RuleAsync(string container, string key, DeviceNumber device, string access, CancellationToken ct) =>
        RunAsync(["lxc-cgroup", "--name", container, key, $"b {device} {access}"], container, ct);

    private async Task<ProcessResult> RunAsync(string[] argv, string container, CancellationToken ct)
    {
        var r = await ChildProcess.RunAsync(argv, null, null, time, ct).ConfigureAwait(false);
        if (!r.Succeeded)
        {
            throw new Operations.OperationRefused("container-error", $"{r.CommandLine} failed for container {container} (exit {r.ExitCode}): {r.StderrSummary}");
        }

        return r;
    }

    /// <summary>glibc's <c>makedev</c>.</summary>
    internal static ulong MakeDev(DeviceNumber d)
    {
        var (major, minor) = ((ulong)d.Major, (ulong)d.Minor);
        return ((major & 0xfffff000UL) << 32) | ((major & 0xfffUL) << 8) | ((minor & 0xffffff00UL) << 12) | (minor & 0xffUL);
    }

    [LibraryImport("libc", EntryPoint = "mknod", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Mknod(string path, uint mode, ulong dev);

    [LoggerMessage(EventId = 3601, Level = LogLevel.Information, Message = "LLS: {Container} given {Name} ({Device}, read-only {ReadOnly})")]
    private static partial void LogDelivered(ILogger logger, string container, string name, DeviceNumber device, bool readOnly);

    [LoggerMessage(EventId = 3602, Level = LogLevel.Information, Message = "LLS: {Container} no longer has {Name} ({Device})")]
    private static partial void LogRevoked(ILogger logger, string container, string name, DeviceNumber? device);
}
