using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace VgMesh.Lvm.OnDisk;

/// <summary>Where the current copy of the VG's metadata text is, and its checksum: it changes with every commit.</summary>
public readonly record struct MetadataFingerprint(long Offset, long Size, uint Checksum);

/// <summary>
/// Reads a PV's first metadata area as LVM writes it (lib/format_text/layout.h): the label in
/// one of the first four sectors, the PV header after it (data areas, then metadata areas, each
/// list ending in a zero entry), at the metadata area the header (<c>mda_header</c>, magic
/// <c> LVM2 x[5A%r0N*></c>) whose first location points at the current text in a circular buffer.
/// Every read is O_DIRECT, as LVM's own: another host writes this disk, and this kernel's page
/// cache would keep showing the old bytes. No LVM process, no lock: a reader racing a commit
/// sees the old location or the new one (LVM writes the text first, then the header in one
/// sector), and the text of a location it read is whole.
/// </summary>
public sealed partial class MetadataArea : IDisposable
{
    private const int Sector = 512;
    private const int Align = 4096;
    private const int MdaHeaderSize = 512;
    private static readonly byte[] LabelId = "LABELONE"u8.ToArray();
    private static readonly byte[] MdaMagic = " LVM2 x[5A%r0N*>"u8.ToArray();

    private readonly SafeFileHandle _handle;
    private readonly long _mdaStart;
    private readonly long _mdaSize;

    private MetadataArea(SafeFileHandle handle, long mdaStart, long mdaSize) => (_handle, _mdaStart, _mdaSize) = (handle, mdaStart, mdaSize);

    public string Device { get; private init; } = "";

    /// <summary>Opens <paramref name="device"/> (a PV) and finds its first metadata area; null when it has none (a PV made with --metadatacopies 0).</summary>
    /// <exception cref="IOException">Not readable, or not an LVM2 PV.</exception>
    public static MetadataArea? Open(string device)
    {
        ArgumentNullException.ThrowIfNull(device);
        var fd = NativeOpen(device, ORdOnly | ODirect | OCloExec);
        if (fd < 0)
        {
            throw new IOException($"cannot open {device} for direct reads (errno {Marshal.GetLastPInvokeError()})");
        }

        var handle = new SafeFileHandle(fd, ownsHandle: true);
        try
        {
            if (FirstMetadataArea(handle, device) is { } mda)
            {
                return new MetadataArea(handle, mda.Offset, mda.Size) { Device = device };
            }
        }
        catch
        {
            handle.Dispose();
            throw;
        }

        handle.Dispose();
        return null;
    }

    /// <summary>The first metadata area's offset and size from the PV header; null when it lists none.</summary>
    private static (long Offset, long Size)? FirstMetadataArea(SafeFileHandle handle, string device)
    {
        var head = Read(handle, 0, 4 * Sector);
        for (var s = 0; s < 4; s++)
        {
            var label = head.AsSpan(s * Sector, Sector);
            if (!label[..8].SequenceEqual(LabelId))
            {
                continue;
            }

            // label_header: id[8], sector_xl u64, crc_xl u32, offset_xl u32 (of the PV header in this sector), type[8].
            var pv = label[(int)BinaryPrimitives.ReadUInt32LittleEndian(label[20..])..];
            var at = SkipList(pv, 32 + 8); // pv_uuid[32], device_size_xl u64, then the data areas
            if (at + 16 > pv.Length)
            {
                return null;
            }

            var offset = (long)BinaryPrimitives.ReadUInt64LittleEndian(pv[at..]);
            return offset == 0 ? null : (offset, (long)BinaryPrimitives.ReadUInt64LittleEndian(pv[(at + 8)..]));
        }

        throw new IOException($"{device} has no LVM2 label in its first four sectors");
    }

    /// <summary>The current text's location and checksum: one sector read.</summary>
    public MetadataFingerprint Fingerprint()
    {
        var header = Read(_handle, _mdaStart, MdaHeaderSize);
        if (!header.AsSpan(4, 16).SequenceEqual(MdaMagic))
        {
            throw new IOException($"{Device}: no metadata area header at {_mdaStart} (magic missing)");
        }

        // mda_header: checksum u32, magic[16], version u32, start u64, size u64, raw_locn[]: offset u64, size u64, checksum u32, flags u32.
        var raw = header.AsSpan(40);
        return new MetadataFingerprint((long)BinaryPrimitives.ReadUInt64LittleEndian(raw), (long)BinaryPrimitives.ReadUInt64LittleEndian(raw[8..]),
            BinaryPrimitives.ReadUInt32LittleEndian(raw[16..]));
    }

    /// <summary>The text at <paramref name="at"/> (from <see cref="Fingerprint"/>), joined where it wraps round the circular buffer.</summary>
    public string Text(MetadataFingerprint at)
    {
        if (at.Size <= 0 || at.Offset < MdaHeaderSize || at.Offset >= _mdaSize || at.Size > _mdaSize)
        {
            throw new IOException($"{Device}: metadata location {at.Offset}+{at.Size} is outside its area of {_mdaSize} bytes");
        }

        var first = Math.Min(at.Size, _mdaSize - at.Offset);
        var bytes = Read(_handle, _mdaStart + at.Offset, (int)first);
        if (first < at.Size)
        {
            bytes = [.. bytes, .. Read(_handle, _mdaStart + MdaHeaderSize, (int)(at.Size - first))];
        }

        // The text ends in a NUL that its size counts.
        return Encoding.UTF8.GetString(bytes).TrimEnd('\0');
    }

    public void Dispose() => _handle.Dispose();

    private static int SkipList(ReadOnlySpan<byte> pv, int at)
    {
        while (at + 16 <= pv.Length && BinaryPrimitives.ReadUInt64LittleEndian(pv[at..]) != 0)
        {
            at += 16;
        }

        return at + 16;
    }

    /// <summary><paramref name="length"/> bytes at <paramref name="offset"/>, through an aligned read that covers them (O_DIRECT's rule).</summary>
    private static unsafe byte[] Read(SafeFileHandle handle, long offset, int length)
    {
        var start = offset / Align * Align;
        var span = (int)((offset + length - start + Align - 1) / Align * Align);
        var buffer = NativeMemory.AlignedAlloc((nuint)span, Align);
        try
        {
            var view = new Span<byte>(buffer, span);
            var got = 0;
            while (got < span)
            {
                var n = RandomAccess.Read(handle, view[got..], start + got);
                if (n == 0)
                {
                    break;
                }

                got += n;
            }

            if (got < offset - start + length)
            {
                throw new IOException($"short read at {offset}: {got} bytes");
            }

            return view.Slice((int)(offset - start), length).ToArray();
        }
        finally
        {
            NativeMemory.AlignedFree(buffer);
        }
    }

    private const int ORdOnly = 0, ODirect = 0x4000, OCloExec = 0x80000;

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int NativeOpen(string path, int flags);
}
