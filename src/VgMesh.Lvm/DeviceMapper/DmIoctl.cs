using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace VgMesh.Lvm.DeviceMapper;

/// <summary>
/// Device-mapper's own ioctls on <c>/dev/mapper/control</c>, the requests <c>dmsetup</c> makes,
/// without the process, for the few questions and changes on a growth's or a watch's path:
/// <list type="bullet">
/// <item>a device's status (<c>DM_TABLE_STATUS</c>, as <c>dmsetup status</c>): how full the LLS
/// snapshots active here are, asked several times a second. Measured on a lab host (2026-12-05):
/// a <c>dmsetup status</c> costs 0.12-0.3 s of its one CPU, so four readings a second took half
/// of it and slowed the very <c>lvextend</c> the readings were waiting for;</item>
/// <item>its live table (the same request with the table flag, as <c>dmsetup table</c>);</item>
/// <item>a grown table loaded and made live (<c>DM_TABLE_LOAD</c> then <c>DM_DEV_SUSPEND</c>
/// without the suspend flag, as <c>dmsetup load</c> and <c>dmsetup resume</c>): two processes of
/// 0.15 s each on a lab host, most of what was left of a snapshot growth's second (issue #15).</item>
/// </list>
/// Only <see cref="DmSetup"/> changes tables with them (<see cref="DmSetup.ReloadAsync"/>); every
/// other change still goes through LVM or <c>dmsetup</c>.
/// </summary>
public static partial class DmIoctl
{
    /// <summary>struct dm_ioctl (include/uapi/linux/dm-ioctl.h), the header in front of the data.</summary>
    internal const int HeaderSize = 312;

    /// <summary>struct dm_target_spec: sector_start, length, status, next, target_type[16].</summary>
    internal const int SpecSize = 40;

    /// <summary>_IOWR(DM_IOCTL 0xfd, DM_TABLE_STATUS_CMD 12, struct dm_ioctl).</summary>
    private const uint TableStatusRequest = 0xC138FD0C;

    /// <summary>_IOWR(DM_IOCTL 0xfd, DM_TABLE_LOAD_CMD 9, struct dm_ioctl).</summary>
    private const uint TableLoadRequest = 0xC138FD09;

    /// <summary>_IOWR(DM_IOCTL 0xfd, DM_DEV_SUSPEND_CMD 6, struct dm_ioctl): without DM_SUSPEND_FLAG, a resume.</summary>
    private const uint DevSuspendRequest = 0xC138FD06;

    /// <summary>_IOWR(DM_IOCTL 0xfd, DM_DEV_REMOVE_CMD 4, struct dm_ioctl).</summary>
    private const uint DevRemoveRequest = 0xC138FD04;

    private const int Busy = 16; // EBUSY: the device is open

    /// <summary>DM_MAX_TYPE_NAME: the target type's field in a spec.</summary>
    private const int TypeLength = 16;

    private const int FlagsOffset = 28;
    private const int NameOffset = 48;

    /// <summary>DM_STATUS_TABLE_FLAG: the table's parameters instead of the targets' status.</summary>
    internal const uint TableFlag = 1 << 4;
    private const int NameLength = 128;
    private const uint BufferFullFlag = 1 << 8;
    private const int NoSuchDevice = 6; // ENXIO
    private const int BufferSize = 16 * 1024;

    /// <summary>
    /// The device's status lines, as <see cref="DmParser.ParseStatus(string, string)"/> gives them;
    /// null when there is no such device (removed since it was listed).
    /// </summary>
    public static IReadOnlyList<DmStatusLine>? Read(string name, string control = "/dev/mapper/control") =>
        Query(name, 0, "status", control) is { } lines ? Statuses(name, lines) : null;

    /// <summary>
    /// The device's live table, as <see cref="DmParser.ParseTable(string, string)"/> gives it (the
    /// same request with the table flag, as <c>dmsetup table NAME</c>); null when there is no such
    /// device. For the drift watch, which must see what a table maps before growing it.
    /// </summary>
    public static IReadOnlyList<DmTableLine>? ReadTable(string name, string control = "/dev/mapper/control") =>
        Query(name, TableFlag, "table", control)?.Select(l => new DmTableLine(name, l.Sector, l.Length, DmParser.ParseTarget(l.Type, l.Args))).ToList();

    private static List<(long Sector, long Length, string Type, string[] Args)>? Query(string name, uint flags, string what, string control)
    {
        DmSetup.ValidateName(name);
        var buffer = new byte[BufferSize];
        WriteRequest(buffer, name, flags);
        if (Send(TableStatusRequest, buffer, control) is var errno and not 0)
        {
            return errno == NoSuchDevice ? null
                : throw new DmIoctlException(name, $"reading the {what} of device-mapper device '{name}' failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno}); 'dmsetup {what} {name}' shows it by hand.");
        }

        return ReplyLines(name, buffer, what);
    }

    /// <summary>
    /// Loads <paramref name="table"/> into the device's inactive slot, as <c>dmsetup load</c>;
    /// <see cref="Resume"/> makes it live. The kernel checks the table as it would dmsetup's: a
    /// target it refuses is an error here and the live table is untouched.
    /// </summary>
    public static void Load(string name, IReadOnlyList<DmTableLine> table, string control = "/dev/mapper/control")
    {
        DmSetup.ValidateName(name);
        Change(name, TableLoadRequest, LoadRequest(name, table), "loading a table into", $"dmsetup load {name}", control);
    }

    /// <summary>
    /// Makes the loaded table live, as <c>dmsetup resume</c> (the same flags: the kernel suspends
    /// with a flush and a file-system freeze, swaps the tables and resumes). It passes no udev
    /// cookie, as dmsetup does where udev does not run: the kernel's change event still goes out,
    /// and LVM's rules leave its layers (<c>-cow</c>) alone whatever the event carries.
    /// </summary>
    public static void Resume(string name, string control = "/dev/mapper/control")
    {
        DmSetup.ValidateName(name);
        var buffer = new byte[HeaderSize];
        WriteRequest(buffer, name);
        Change(name, DevSuspendRequest, buffer, "resuming", $"dmsetup resume {name}", control);
    }

    /// <summary>
    /// Removes the device, as <c>dmsetup remove</c> (never forced: an open device is refused with
    /// <see cref="LvmInUseException"/>, as dmsetup's "Device or resource busy" is). No udev
    /// cookie, as for <see cref="Resume"/>: where udev runs it still removes the node's links on
    /// the kernel's event; where it does not, <see cref="DmSetup"/> removes the node.
    /// </summary>
    public static void Remove(string name, string control = "/dev/mapper/control")
    {
        DmSetup.ValidateName(name);
        var buffer = new byte[HeaderSize];
        WriteRequest(buffer, name);
        var errno = Send(DevRemoveRequest, buffer, control);
        if (errno == Busy)
        {
            throw new LvmInUseException(name);
        }

        ThrowIfFailed(name, errno, "removing", $"dmsetup remove {name}");
    }

    private static void Change(string name, uint request, byte[] buffer, string what, string byHand, string control) =>
        ThrowIfFailed(name, Send(request, buffer, control), what, byHand);

    private static void ThrowIfFailed(string name, int errno, string what, string byHand)
    {
        if (errno != 0)
        {
            throw errno == NoSuchDevice
                ? new DmIoctlException(name, $"{what} device-mapper device '{name}' failed: there is no such device (removed meanwhile?); 'dmsetup info {name}' shows it.")
                : new DmIoctlException(name, $"{what} device-mapper device '{name}' failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno}); the kernel's log says why, and '{byHand}' does the same by hand.");
        }
    }

    /// <summary>One request on the control node: 0, or the errno it failed with.</summary>
    private static int Send(uint request, byte[] buffer, string control)
    {
        using var handle = File.OpenHandle(control, FileMode.Open, FileAccess.ReadWrite);
        return Ioctl(handle, request, ref buffer[0]) < 0 ? Marshal.GetLastPInvokeError() : 0;
    }

    /// <summary>
    /// The request of a load: the header, then per line a struct dm_target_spec and its
    /// parameters, NUL-terminated and padded to 8 bytes (as libdevmapper lays them out). In a load
    /// each spec's <c>next</c> counts from that spec (in a status reply, from data_start).
    /// </summary>
    internal static byte[] LoadRequest(string name, IReadOnlyList<DmTableLine> table)
    {
        ArgumentNullException.ThrowIfNull(table);
        if (table.Count == 0)
        {
            throw new ArgumentException($"a table for '{name}' needs at least one line", nameof(table));
        }

        var specs = table.Select(l => (Line: l, Params: Encoding.ASCII.GetBytes(l.Target.Parameters))).ToList();
        var sizes = specs.Select(s => Align8(SpecSize + s.Params.Length + 1)).ToList();
        var buffer = new byte[HeaderSize + sizes.Sum()];
        WriteRequest(buffer, name);
        BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(20), (uint)table.Count); // target_count
        var at = HeaderSize;
        for (var i = 0; i < specs.Count; i++)
        {
            var (line, parameters) = specs[i];
            var type = Encoding.ASCII.GetBytes(line.Target.Type);
            if (type.Length is 0 or > TypeLength - 1)
            {
                throw new ArgumentException($"'{line.Target.Type}' is not a device-mapper target type", nameof(table));
            }

            var spec = buffer.AsSpan(at, sizes[i]);
            BinaryPrimitives.WriteUInt64LittleEndian(spec, (ulong)line.StartSector);
            BinaryPrimitives.WriteUInt64LittleEndian(spec[8..], (ulong)line.LengthSectors);
            BinaryPrimitives.WriteUInt32LittleEndian(spec[20..], (uint)sizes[i]); // next, from this spec
            type.CopyTo(spec[24..]);
            parameters.CopyTo(spec[SpecSize..]);
            at += sizes[i];
        }

        return buffer;
    }

    private static int Align8(int n) => (n + 7) & ~7;

    /// <summary>Fills the header of a request for <paramref name="name"/> (version 4.0.0; no flags: the status, <see cref="TableFlag"/>: the table).</summary>
    internal static void WriteRequest(Span<byte> buffer, string name, uint flags = 0)
    {
        if (name.Length > NameLength - 1)
        {
            throw new ArgumentException($"device-mapper name '{name}' is longer than {NameLength - 1} characters", nameof(name));
        }

        buffer.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(buffer, 4);
        BinaryPrimitives.WriteUInt32LittleEndian(buffer[12..], (uint)buffer.Length); // data_size: the whole buffer
        BinaryPrimitives.WriteUInt32LittleEndian(buffer[16..], HeaderSize); // data_start
        BinaryPrimitives.WriteUInt32LittleEndian(buffer[FlagsOffset..], flags);
        var written = Encoding.ASCII.GetBytes(name, buffer.Slice(NameOffset, NameLength - 1));
        buffer[NameOffset + written] = 0;
    }

    /// <summary>
    /// Reads the kernel's answer: target_count specs from data_start, each followed by its status
    /// text; each spec's <c>next</c> counts from data_start. A full buffer is an error rather than
    /// a truncated status.
    /// </summary>
    internal static IReadOnlyList<DmStatusLine> ParseReply(string name, ReadOnlySpan<byte> buffer) => Statuses(name, ReplyLines(name, buffer, "status"));

    private static List<DmStatusLine> Statuses(string name, List<(long Sector, long Length, string Type, string[] Args)> lines) =>
        [.. lines.Select(l => new DmStatusLine(name, l.Sector, l.Length, l.Type, DmParser.ParseTargetStatus(l.Type, l.Args)))];

    private static List<(long Sector, long Length, string Type, string[] Args)> ReplyLines(string name, ReadOnlySpan<byte> buffer, string what)
    {
        var flags = BinaryPrimitives.ReadUInt32LittleEndian(buffer[FlagsOffset..]);
        if ((flags & BufferFullFlag) != 0)
        {
            throw new DmIoctlException(name, $"the {what} of device-mapper device '{name}' does not fit in {buffer.Length} bytes; 'dmsetup {what} {name}' shows it.");
        }

        var start = (int)BinaryPrimitives.ReadUInt32LittleEndian(buffer[16..]);
        var count = BinaryPrimitives.ReadUInt32LittleEndian(buffer[20..]);
        var lines = new List<(long, long, string, string[])>((int)Math.Min(count, 64));
        var at = start;
        for (var i = 0; i < count; i++)
        {
            if (at < start || at + SpecSize > buffer.Length)
            {
                throw new DmIoctlException(name, $"the kernel's {what} of '{name}' is malformed (target {i} at byte {at}); 'dmsetup {what} {name}' shows it.");
            }

            var spec = buffer[at..];
            var sector = (long)BinaryPrimitives.ReadUInt64LittleEndian(spec);
            var length = (long)BinaryPrimitives.ReadUInt64LittleEndian(spec[8..]);
            var next = (int)BinaryPrimitives.ReadUInt32LittleEndian(spec[20..]);
            var type = CString(spec.Slice(24, 16));
            var text = CString(spec[SpecSize..]);
            lines.Add((sector, length, type, text.Split(' ', StringSplitOptions.RemoveEmptyEntries)));
            at = start + next;
        }

        return lines;
    }

    private static string CString(ReadOnlySpan<byte> bytes)
    {
        var end = bytes.IndexOf((byte)0);
        return Encoding.ASCII.GetString(end < 0 ? bytes : bytes[..end]);
    }

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    private static partial int Ioctl(SafeFileHandle fd, nuint request, ref byte argument);
}

/// <summary>The device-mapper ioctl itself failed (not a missing device, which is a null status).</summary>
public sealed class DmIoctlException(string name, string message)
    : LvmException("dm-ioctl-failed", message)
{
    public string Device { get; } = name;
}
