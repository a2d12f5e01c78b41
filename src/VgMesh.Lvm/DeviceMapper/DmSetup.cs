using VgMesh.Lvm.Commands;

namespace VgMesh.Lvm.DeviceMapper;

/// <summary>
/// This host's device-mapper through <c>dmsetup</c>. Removal is never forced: an open device is
/// reported as <see cref="LvmInUseException"/>, because forcing would yank it from a running VM.
/// Whether a device exists is read from sysfs (<paramref name="sysRoot"/>) where it shows
/// device-mapper: no process for a question asked on every event.
/// </summary>
public sealed class DmSetup(ILvmRunner runner, string sysRoot = "/sys", string devRoot = "/dev")
{
    /// <summary>Whether a device of that name exists on this host now.</summary>
    public async Task<bool> ExistsAsync(string name, CancellationToken ct = default)
    {
        ValidateName(name);
        return SysfsNames() is { } names ? names.Contains(name) : await InfoAsync(name, ct).ConfigureAwait(false) is not null;
    }

    /// <summary>
    /// The names of this host's device-mapper devices as the kernel lists them (each
    /// <c>block/dm-N/dm/name</c>); null where sysfs does not show device-mapper (no driver loaded,
    /// or no sysfs), and callers ask <c>dmsetup</c> instead.
    /// </summary>
    public IReadOnlySet<string>? SysfsNames() => SysfsDevices()?.Keys.ToHashSet(StringComparer.Ordinal);

    /// <summary>The device-mapper uuid of the named device (<c>block/dm-N/dm/uuid</c>); null when sysfs does not show it.</summary>
    public string? SysfsUuid(string name)
    {
        ValidateName(name);
        if (SysfsDevices() is not { } devices || !devices.TryGetValue(name, out var device))
        {
            return null;
        }

        try
        {
            return File.ReadAllText(Path.Combine(device, "dm", "uuid")).TrimEnd('\n');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null; // removed while read
        }
    }

    /// <summary>
    /// Whether the named device sits straight on its physical devices, with no device of another
    /// LV under it (a snapshot's <c>-cow</c>, an origin's <c>-real</c>, a thin pool, a cache):
    /// then removing it is all a deactivation does in this kernel. A multipath device under it
    /// does not count (it is the PV, not an LV). Null when sysfs cannot tell (no device-mapper
    /// shown, no such device, or nothing under it: a fenced LV's error table hides its layers).
    /// </summary>
    public bool? MapsPhysicalDevicesOnly(string name)
    {
        ValidateName(name);
        if (SysfsDevices() is not { } devices || !devices.TryGetValue(name, out var device))
        {
            return null;
        }

        var slaves = Path.Combine(device, "slaves");
        if (!Directory.Exists(slaves))
        {
            return null;
        }

        // No device under it at all: an error table (a fenced LV), or nothing loaded. Its layers,
        // if it has any, are not visible from here any more.
        var under = Directory.GetFileSystemEntries(slaves);
        if (under.Length == 0)
        {
            return null;
        }

        foreach (var slave in under)
        {
            var uuid = Path.Combine(sysRoot, "block", Path.GetFileName(slave), "dm", "uuid");
            try
            {
                if (File.Exists(uuid) && File.ReadAllText(uuid).StartsWith("LVM-", StringComparison.Ordinal))
                {
                    return false;
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return null; // changing under us: let LVM decide
            }
        }

        return true;
    }

    /// <summary>
    /// Each device's live size in 512-byte sectors (what its table maps in all), from sysfs
    /// (<c>block/dm-N/size</c>, set whenever a table goes live) where it shows device-mapper,
    /// else from <c>dmsetup table</c>: a reconcile pass asks on every host every few seconds.
    /// </summary>
    public async Task<IReadOnlyDictionary<string, long>> SizesAsync(CancellationToken ct = default)
    {
        if (SysfsDevices() is { } devices)
        {
            var sizes = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (var (name, dir) in devices)
            {
                try
                {
                    sizes[name] = long.Parse(File.ReadAllText(Path.Combine(dir, "size")).Trim(), System.Globalization.CultureInfo.InvariantCulture);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // Removed while listed.
                }
            }

            return sizes;
        }

        return (await TableAsync(ct).ConfigureAwait(false)).GroupBy(t => t.Device).ToDictionary(g => g.Key, g => g.Sum(t => t.LengthSectors), StringComparer.Ordinal);
    }

    /// <summary>
    /// What LVM puts in front of the LV uuid (32 characters, no dashes) in the device-mapper uuid
    /// of each device of the VG: <c>LVM-</c> and the VG uuid without dashes. A layer's uuid has a
    /// suffix after the LV uuid (<c>-real</c>, <c>-cow</c>, ...); a top device's has none.
    /// </summary>
    public static string LvmUuidPrefix(string vgUuid)
    {
        ArgumentNullException.ThrowIfNull(vgUuid);
        return "LVM-" + vgUuid.Replace("-", "", StringComparison.Ordinal);
    }

    /// <summary>
    /// The LV uuids (no dashes) of the VG's top devices here (layers such as <c>-real</c> and
    /// <c>-cow</c> left out), from each <c>block/dm-N/dm/uuid</c>: no process and no ioctl, cheap
    /// enough to look twice a second for an LV activated or deactivated without the agent. A
    /// device still being set up (no live table yet: size 0, or suspended) is left out: until it
    /// is resumed, <c>lvs</c> does not report its LV active (seen in the lab: a pass started at
    /// the device's first sight read the LV as inactive). Null as for <see cref="SysfsNames"/>.
    /// </summary>
    public IReadOnlySet<string>? SysfsTopLvUuids(string vgUuid) => SysfsTopLvSizes(vgUuid)?.Keys.ToHashSet(StringComparer.Ordinal);

    /// <summary>
    /// The same devices as <see cref="SysfsTopLvUuids"/>, each with its live size in 512-byte
    /// sectors: what a table maps, to compare with the size the metadata gives its LV.
    /// </summary>
    public IReadOnlyDictionary<string, long>? SysfsTopLvSizes(string vgUuid)
    {
        ArgumentNullException.ThrowIfNull(vgUuid);
        if (SysfsDevices() is not { } devices)
        {
            return null;
        }

        var prefix = LvmUuidPrefix(vgUuid);
        var tops = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var dir in devices.Values)
        {
            try
            {
                var uuid = File.ReadAllText(Path.Combine(dir, "dm", "uuid")).TrimEnd('\n');
                if (uuid.Length == prefix.Length + 32 && uuid.StartsWith(prefix, StringComparison.Ordinal)
                    && long.Parse(File.ReadAllText(Path.Combine(dir, "size")).Trim(), System.Globalization.CultureInfo.InvariantCulture) is var sectors and > 0
                    && File.ReadAllText(Path.Combine(dir, "dm", "suspended")).Trim() == "0")
                {
                    tops[uuid[prefix.Length..]] = sectors;
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Removed while listed.
            }
        }

        return tops;
    }

    /// <summary>
    /// The device names of the classic snapshots of the LV whose device is
    /// <paramref name="origin"/>, active here: every device holding the origin's <c>-real</c>
    /// layer other than the origin itself (LVM stacks an origin with snapshots as
    /// <c>VG-LV</c> over <c>VG-LV-real</c>, and each snapshot over that same <c>-real</c> and
    /// its own <c>-cow</c>). Read from <c>block/dm-N/holders</c>: no process, so a fence
    /// finds them within its deadline. Empty when the LV has none active here; null as for
    /// <see cref="SysfsNames"/>.
    /// </summary>
    public IReadOnlyList<string>? SysfsSnapshotsOf(string origin)
    {
        ArgumentNullException.ThrowIfNull(origin);
        if (SysfsDevices() is not { } devices)
        {
            return null;
        }

        if (!devices.TryGetValue(origin + "-real", out var real) || !Directory.Exists(Path.Combine(real, "holders")))
        {
            return [];
        }

        var byDir = devices.ToDictionary(d => Path.GetFileName(d.Value), d => d.Key, StringComparer.Ordinal);
        return [.. Directory.EnumerateFileSystemEntries(Path.Combine(real, "holders"))
            .Select(h => byDir.GetValueOrDefault(Path.GetFileName(h)))
            .OfType<string>()
            .Where(name => name != origin)
            .Order(StringComparer.Ordinal)];
    }

    /// <summary>Each device-mapper device's name and its <c>block/dm-N</c> directory; null as for <see cref="SysfsNames"/>.</summary>
    private Dictionary<string, string>? SysfsDevices()
    {
        var block = Path.Combine(sysRoot, "block");
        if (!Directory.Exists(Path.Combine(sysRoot, "class", "misc", "device-mapper")) || !Directory.Exists(block))
        {
            return null;
        }

        var devices = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var device in Directory.EnumerateFileSystemEntries(block, "dm-*"))
        {
            try
            {
                devices[File.ReadAllText(Path.Combine(device, "dm", "name")).TrimEnd('\n')] = device;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Removed while listed: it does not exist.
            }
        }

        return devices;
    }

    public async Task<IReadOnlyList<DmDevice>> ListAsync(CancellationToken ct = default) =>
        DmParser.ParseInfo(await RunAsync(DmParser.InfoArgs, "device-mapper devices", ct).ConfigureAwait(false));

    public async Task<DmDevice?> InfoAsync(string name, CancellationToken ct = default)
    {
        ValidateName(name);
        try
        {
            var text = await RunAsync([.. DmParser.InfoArgs, "--", name], name, ct).ConfigureAwait(false);
            return DmParser.ParseInfo(text).SingleOrDefault();
        }
        catch (LvmNotFoundException)
        {
            return null;
        }
    }

    public async Task<IReadOnlyList<DmTableLine>> TableAsync(CancellationToken ct = default) =>
        DmParser.ParseTable(await RunAsync(["table"], "device-mapper tables", ct).ConfigureAwait(false));

    public async Task<IReadOnlyList<DmTableLine>> TableAsync(string name, CancellationToken ct = default)
    {
        ValidateName(name);
        return DmParser.ParseTable(name, await RunAsync(["table", "--", name], name, ct).ConfigureAwait(false));
    }

    public async Task<IReadOnlyList<DmStatusLine>> StatusAsync(CancellationToken ct = default) =>
        DmParser.ParseStatus(await RunAsync(["status"], "device-mapper status", ct).ConfigureAwait(false));

    /// <summary>
    /// The status of each named device (ones gone since they were listed are left out), read
    /// with device-mapper's ioctl (<see cref="DmIoctl"/>): no process for a reading taken
    /// several times a second. Where there is no control node, one <c>dmsetup status</c>.
    /// </summary>
    public async Task<IReadOnlyList<DmStatusLine>> StatusOfAsync(IEnumerable<string> names, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(names);
        var control = ControlNode;
        if (!File.Exists(control))
        {
            var wanted = names.ToHashSet(StringComparer.Ordinal);
            return (await StatusAsync(ct).ConfigureAwait(false)).Where(l => wanted.Contains(l.Device)).ToList();
        }

        return names.SelectMany(n => DmIoctl.Read(n, control) ?? []).ToList();
    }

    public async Task<IReadOnlyList<DmStatusLine>> StatusAsync(string name, CancellationToken ct = default)
    {
        ValidateName(name);
        return DmParser.ParseStatus(name, await RunAsync(["status", "--", name], name, ct).ConfigureAwait(false));
    }

    /// <summary>
    /// Removes a device (a released or deactivated plain LV's, one whose LV no longer exists, a
    /// fenced one). Never forced. Through device-mapper's ioctl where there is a control node
    /// (the old holder's release on a handoff's path: a dmsetup process is 80-120 ms of a lab host).
    /// </summary>
    public async Task RemoveAsync(string name, CancellationToken ct = default)
    {
        ValidateName(name);
        if (File.Exists(ControlNode))
        {
            DmIoctl.Remove(name, ControlNode);
        }
        else
        {
            await RunAsync(["remove", "--", name], name, ct).ConfigureAwait(false);
        }

        RemoveLeftNode(name);
    }

    /// <summary>
    /// Where udev runs, it removes the device's <c>/dev/mapper</c> entry and dmsetup waits for it.
    /// Where it does not (the lab's hosts, containers), the block node stays behind and would open
    /// whichever device the kernel gives that number next; it goes once sysfs shows the device gone.
    /// </summary>
    private void RemoveLeftNode(string name)
    {
        if (SysfsNames() is { } names && !names.Contains(name))
        {
            try
            {
                File.Delete(Path.Combine(devRoot, "mapper", name));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Not ours to remove (read-only /dev): harmless where udev keeps /dev.
            }
        }
    }

    /// <summary>
    /// A block device's number as tables name it (<c>major:minor</c>), from sysfs
    /// (<c>class/block/NAME/dev</c>) after following links (<c>/dev/mapper/mpatha</c> is one to
    /// <c>dm-3</c>); null where sysfs does not show it.
    /// </summary>
    public string? DeviceNumberOf(string devicePath)
    {
        ArgumentException.ThrowIfNullOrEmpty(devicePath);
        try
        {
            var target = File.ResolveLinkTarget(devicePath, returnFinalTarget: true)?.FullName ?? devicePath;
            var file = Path.Combine(sysRoot, "class", "block", Path.GetFileName(target), "dev");
            return File.Exists(file) ? File.ReadAllText(file).Trim() : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>
    /// Makes a device with a live table, as LVM's activation of a plain LV does: the name and
    /// uuid LVM gives it (<c>LVM-</c> + VG id + LV id), so LVM sees the LV active. With
    /// <c>--verifyudev</c>: where udev runs it makes the <c>/dev/mapper</c> node and dmsetup
    /// checks it did; where it does not (the lab), dmsetup makes the node itself.
    /// </summary>
    public Task CreateAsync(string name, string uuid, IReadOnlyList<DmTableLine> table, CancellationToken ct = default)
    {
        ValidateName(name);
        if (string.IsNullOrEmpty(uuid) || uuid.Length > 128 || uuid[0] == '-' || !uuid.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
        {
            throw new ArgumentException($"'{uuid}' is not a device-mapper uuid vgmesh makes (LVM- and the VG's and LV's ids)", nameof(uuid));
        }

        return RunAsync(["create", "--verifyudev", "--uuid", uuid, "--", name], name, ct, stdin: TableText(name, table));
    }

    /// <summary>Loads a table into the device's inactive slot; <see cref="ResumeAsync"/> makes it live.</summary>
    public Task LoadAsync(string name, IReadOnlyList<DmTableLine> table, CancellationToken ct = default)
    {
        ValidateName(name);
        return RunAsync(["load", "--", name], name, ct, stdin: TableText(name, table));
    }

    /// <summary>A table as dmsetup reads it on stdin (several segments cannot travel in one --table argument).</summary>
    private static string TableText(string name, IReadOnlyList<DmTableLine> table)
    {
        ArgumentNullException.ThrowIfNull(table);
        if (table.Count == 0)
        {
            throw new ArgumentException($"a table for '{name}' needs at least one line", nameof(table));
        }

        return string.Concat(table.Select(l => $"{l.StartSector} {l.LengthSectors} {l.Target.Type} {l.Target.Parameters}".TrimEnd() + "\n"));
    }

    /// <summary>
    /// Replaces the live table with one that fails every new I/O, in one command (in-flight I/O
    /// completes first): fencing, where each process counts.
    /// </summary>
    public Task WipeTableAsync(string name, CancellationToken ct = default)
    {
        ValidateName(name);
        return RunAsync(["wipe_table", "--", name], name, ct);
    }

    /// <summary>Device-mapper's control node, through which <see cref="DmIoctl"/> asks and changes without a process.</summary>
    private string ControlNode => Path.Combine(devRoot, "mapper", "control");

    /// <summary>
    /// Loads <paramref name="table"/> and makes it live (load, then resume), through
    /// device-mapper's ioctls (<see cref="DmIoctl"/>) where there is a control node: a grown
    /// table on a growth's path, where two <c>dmsetup</c> processes took 0.3 s of a lab host.
    /// Where there is none, the two processes.
    /// </summary>
    public async Task ReloadAsync(string name, IReadOnlyList<DmTableLine> table, CancellationToken ct = default)
    {
        ValidateName(name);
        var control = ControlNode;
        if (File.Exists(control))
        {
            DmIoctl.Load(name, table, control);
            DmIoctl.Resume(name, control);
            return;
        }

        await LoadAsync(name, table, ct).ConfigureAwait(false);
        await ResumeAsync(name, ct).ConfigureAwait(false);
    }

    /// <summary>The messages vgmesh sends a target (<c>dmsetup message</c>): a thin pool's metadata snapshot, taken and let go.</summary>
    public static readonly IReadOnlySet<string> Messages = new HashSet<string>(StringComparer.Ordinal) { "reserve_metadata_snap", "release_metadata_snap" };

    /// <summary>Sends <paramref name="message"/> (one of <see cref="Messages"/>) to the target at sector 0 of <paramref name="name"/>.</summary>
    public Task MessageAsync(string name, string message, CancellationToken ct = default)
    {
        ValidateName(name);
        if (!Messages.Contains(message))
        {
            throw new ArgumentException($"'{message}' is not a device-mapper message vgmesh sends ({string.Join(", ", Messages)})", nameof(message));
        }

        return RunAsync(["message", "--", name, "0", message], name, ct);
    }

    public Task SuspendAsync(string name, CancellationToken ct = default)
    {
        ValidateName(name);
        return RunAsync(["suspend", "--", name], name, ct);
    }

    public Task ResumeAsync(string name, CancellationToken ct = default)
    {
        ValidateName(name);
        return RunAsync(["resume", "--", name], name, ct);
    }

    /// <summary>
    /// dm names here are LVM's (<c>vg-lv</c> with '-' doubled, plus layer suffixes) or vgmesh's own;
    /// the same character set as LVM names, so nothing can read as an option or a path.
    /// </summary>
    public static string ValidateName(string? name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > 127 || name[0] == '-' || name is "." or ".." ||
            !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '+' or '_' or '.' or '-'))
        {
            throw new InvalidLvmNameException(name ?? "", "device-mapper device", "use 1-127 of A-Z a-z 0-9 + _ . - and do not start with '-'");
        }

        return name;
    }

    private async Task<string> RunAsync(IReadOnlyList<string> args, string objectName, CancellationToken ct, string? stdin = null)
    {
        var result = await runner.RunAsync(new LvmCommand(LvmTool.Dmsetup, args, objectName, Stdin: stdin), ct).ConfigureAwait(false);
        return LvmErrors.ThrowIfFailed(result, objectName).Stdout;
    }
}
