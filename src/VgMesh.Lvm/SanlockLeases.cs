using System.Globalization;
using VgMesh.Lvm.Commands;

namespace VgMesh.Lvm;

/// <summary>
/// A sanlock resource lease as <c>sanlock client status</c> lists it
/// (<c>r lvm_san:UUID:/dev/mapper/san-lvmlock:70254592:3 p 750</c>: lockspace, resource, lease
/// area, offset, lease version, and the process that holds it, lvmlockd).
/// </summary>
public sealed record SanlockResource(string Lockspace, string Name, string Path, long Offset, int Pid)
{
    /// <summary>The resource as <c>sanlock client -r</c> takes it (no lease version).</summary>
    public string Spec => string.Create(CultureInfo.InvariantCulture, $"{Lockspace}:{Name}:{Path}:{Offset}");

    /// <summary>The resource lvmlockd uses for an LV's lock: named by the LV's uuid, in the lockspace's lease LV.</summary>
    public static SanlockResource ForLv(string vg, string lvUuid, long offset, int pid) =>
        new($"lvm_{vg}", lvUuid, $"/dev/mapper/{LockLvDevice(vg)}", offset, pid);

    /// <summary>The device of lvmlockd's hidden LV that holds the VG's sanlock leases (<c>VG-lvmlock</c>), active on every host of the lockspace.</summary>
    public static string LockLvDevice(string vg) => LvRef.DmNameOf(vg, "lvmlock");

    /// <summary>Whether this host runs <paramref name="vg"/>'s sanlock lockspace, from its device names (no process).</summary>
    public static bool InLockspace(IReadOnlySet<string>? deviceNames, string vg) => deviceNames?.Contains(LockLvDevice(vg)) == true;
}

/// <summary>
/// How sanlock renews this host's delta lease in one lockspace (its host id lease, which keeps
/// every resource lease of the lockspace valid), from <c>sanlock client status -D</c>. Times are
/// sanlock's clock (monotonic seconds of this host); <paramref name="Monotime"/> is that clock
/// when the daemon answered.
/// </summary>
/// <param name="LastResult">The last renewal's result: 1 is success; a negative value is sanlock's error (-202: an i/o timeout).</param>
/// <param name="RenewFail">sanlock counts the lease as failing to renew (past its io timeouts): it will kill the lockspace's users.</param>
public sealed record LockspaceRenewal(string Lockspace, int? IoTimeout, int? LastResult, long? LastAttempt, long? LastSuccess, bool RenewFail, long? Monotime)
{
    /// <summary>Seconds since the last successful renewal, on sanlock's own clock; null when it does not say.</summary>
    public long? SecondsSinceRenewal => Monotime is { } now && LastSuccess is { } at ? Math.Max(0, now - at) : null;
}

/// <summary>
/// sanlock's resource leases of an lvmlockd VG, through the one process choke point. lvmlockd
/// holds an LV's lease for as long as the LV is active here, and only a deactivation gives it up:
/// a host that fenced an LV a VM still holds open (an error table: nothing reaches the disk any
/// more) releases the lease on lvmlockd's behalf, so the host that takes the LV over can lock it
/// at once instead of never (a partition is invisible to sanlock: the disk still renews).
/// </summary>
public sealed class SanlockLeases(ILvmRunner runner)
{
    public async Task<IReadOnlyList<SanlockResource>> ResourcesAsync(CancellationToken ct = default) => ParseStatus(await StatusAsync(ct).ConfigureAwait(false));

    public async Task<int?> LvmlockdPidAsync(CancellationToken ct = default) => LvmlockdPid(await StatusAsync(ct).ConfigureAwait(false));

    /// <summary>The renewal of this host's lease in each lockspace sanlock runs here.</summary>
    public async Task<IReadOnlyList<LockspaceRenewal>> RenewalsAsync(CancellationToken ct = default) => ParseRenewals(await StatusAsync(ct, debug: true).ConfigureAwait(false));

    private async Task<string> StatusAsync(CancellationToken ct, bool debug = false)
    {
        var result = await runner.RunAsync(new LvmCommand(LvmTool.Sanlock, ["client", "status", .. debug ? ["-D"] : Array.Empty<string>()], "sanlock"), ct).ConfigureAwait(false);
        return LvmErrors.ThrowIfFailed(result, "sanlock").Stdout;
    }

    /// <summary>
    /// The lockspaces of <c>sanlock client status -D</c> (sanlock 3.8): a <c>daemon</c> block whose
    /// <c>monotime</c> is sanlock's clock now, then client (<c>p</c>), lockspace
    /// (<c>s NAME:HOSTID:PATH:OFFSET</c>) and resource (<c>r</c>) lines, each followed by its state
    /// as indented <c>key=value</c> lines.
    /// </summary>
    public static IReadOnlyList<LockspaceRenewal> ParseRenewals(string statusDebug)
    {
        ArgumentNullException.ThrowIfNull(statusDebug);
        var blocks = new List<(string Head, Dictionary<string, string> Values)>();
        foreach (var raw in statusDebug.Split('\n'))
        {
            var line = raw.TrimEnd();
            if (line.Length == 0)
            {
                continue;
            }

            if (!char.IsWhiteSpace(line[0]))
            {
                blocks.Add((line, new Dictionary<string, string>(StringComparer.Ordinal)));
            }
            else if (blocks.Count > 0 && line.Trim().IndexOf('=', StringComparison.Ordinal) is > 0 and var eq)
            {
                var pair = line.Trim();
                blocks[^1].Values[pair[..eq]] = pair[(eq + 1)..];
            }
        }

        static long? Long(Dictionary<string, string> values, string key) =>
            values.TryGetValue(key, out var v) && long.TryParse(v, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) ? n : null;
        var now = blocks.Where(b => b.Head.StartsWith("daemon ", StringComparison.Ordinal)).Select(b => Long(b.Values, "monotime")).FirstOrDefault();
        return [.. blocks.Where(b => b.Head.StartsWith("s ", StringComparison.Ordinal)).Select(b => new LockspaceRenewal(
            b.Head[2..].Split(':')[0], (int?)Long(b.Values, "io_timeout"), (int?)Long(b.Values, "renewal_last_result"),
            Long(b.Values, "renewal_last_attempt"), Long(b.Values, "renewal_last_success"), Long(b.Values, "renew_fail") is > 0, now))];
    }

    /// <summary>Gives up <paramref name="resource"/> on behalf of the process that holds it (lvmlockd).</summary>
    public async Task ReleaseAsync(SanlockResource resource, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(resource);
        var pid = resource.Pid.ToString(CultureInfo.InvariantCulture);
        var result = await runner.RunAsync(new LvmCommand(LvmTool.Sanlock, ["client", "release", "-r", resource.Spec, "-p", pid], resource.Name), ct).ConfigureAwait(false);
        LvmErrors.ThrowIfFailed(result, resource.Name);
    }

    /// <summary>Takes <paramref name="resource"/> again for lvmlockd (its process in <see cref="SanlockResource.Pid"/>); fails while another host holds it.</summary>
    public async Task AcquireAsync(SanlockResource resource, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(resource);
        var pid = resource.Pid.ToString(CultureInfo.InvariantCulture);
        var result = await runner.RunAsync(new LvmCommand(LvmTool.Sanlock, ["client", "acquire", "-r", resource.Spec, "-p", pid], resource.Name), ct).ConfigureAwait(false);
        LvmErrors.ThrowIfFailed(result, resource.Name);
    }

    /// <summary>lvmlockd's process as sanlock lists its clients (<c>p 750 lvmlockd</c>); null when it is not registered.</summary>
    public static int? LvmlockdPid(string status)
    {
        ArgumentNullException.ThrowIfNull(status);
        foreach (var line in status.Split('\n'))
        {
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (f is ["p", var pid, "lvmlockd", ..] && int.TryParse(pid, NumberStyles.None, CultureInfo.InvariantCulture, out var p))
            {
                return p;
            }
        }

        return null;
    }

    public static IReadOnlyList<SanlockResource> ParseStatus(string status)
    {
        ArgumentNullException.ThrowIfNull(status);
        var list = new List<SanlockResource>();
        foreach (var line in status.Split('\n'))
        {
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (f is not ["r", var spec, "p", var pidText, ..] || !int.TryParse(pidText, NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            // lockspace:name:path:offset:lver; the path has no colon in lvmlockd's use.
            var parts = spec.Split(':');
            if (parts.Length == 5 && long.TryParse(parts[3], NumberStyles.None, CultureInfo.InvariantCulture, out var offset))
            {
                list.Add(new SanlockResource(parts[0], parts[1], parts[2], offset, pid));
            }
        }

        return list;
    }

    /// <summary>The dashed form LVM prints (6-4-4-4-4-4-6) of a 32-character uuid as device-mapper carries it.</summary>
    public static string DashedUuid(string uuid32)
    {
        ArgumentNullException.ThrowIfNull(uuid32);
        if (uuid32.Length != 32)
        {
            throw new ArgumentException($"an LVM uuid has 32 characters, not {uuid32.Length}", nameof(uuid32));
        }

        return string.Join('-', uuid32[..6], uuid32[6..10], uuid32[10..14], uuid32[14..18], uuid32[18..22], uuid32[22..26], uuid32[26..]);
    }
}
