using System.Buffers.Binary;
using System.IO.Hashing;
using System.Security.Cryptography;
using System.Text;

namespace VgMesh.Sync;

/// <summary>The two wire formats (docs/api.md has both layouts).</summary>
public enum DeltaFormat
{
    /// <summary>Header with the source's size and chunk size, a CRC-32 per record, a trailer with counts and a SHA-256: truncation and corruption are found.</summary>
    VgMesh,

    /// <summary>lvmsync 3.x's own stream, byte for byte: the line <c>lvmsync PROTO[3]</c>, then records to the end of the file, nothing to check.</summary>
    Lvmsync,
}

/// <summary>A delta, or a snapback (what a delta overwrote, to be applied in reverse order).</summary>
public enum DeltaKind : ushort
{
    Delta = 0,
    Snapback = 1,
}

/// <summary>What a stream says about itself; lvmsync's says nothing (size and chunk 0).</summary>
public sealed record DeltaHeader(DeltaFormat Format, DeltaKind Kind, int ChunkBytes, long SourceBytes);

/// <summary>Constants of both layouts.</summary>
public static class DeltaLayout
{
    public static readonly byte[] VgMeshMagic = "VGMDELTA"u8.ToArray();
    public static readonly byte[] LvmsyncHandshake = Encoding.ASCII.GetBytes("lvmsync PROTO[3]\n");
    public const ushort Version = 1;
    public const int HeaderBytes = 32;

    /// <summary>The largest record vgmesh writes or reads at once: the apply's memory, whatever the delta.</summary>
    public const int MaxRecordBytes = 4 << 20;

    public const ulong EndMarker = ulong.MaxValue;
}

/// <summary>Writes records; counts what it wrote.</summary>
public sealed class DeltaWriter : IDisposable
{
    private readonly Stream _out;
    private readonly DeltaHeader _header;
    private readonly IncrementalHash? _hash;
    private readonly byte[] _head = new byte[12];

    public DeltaWriter(Stream output, DeltaHeader header)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(header);
        _out = output;
        _header = header;
        if (header.Format == DeltaFormat.Lvmsync)
        {
            Put(DeltaLayout.LvmsyncHandshake);
            return;
        }

        _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var h = new byte[DeltaLayout.HeaderBytes];
        DeltaLayout.VgMeshMagic.CopyTo(h, 0);
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(8), DeltaLayout.Version);
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(10), (ushort)header.Kind);
        BinaryPrimitives.WriteUInt32BigEndian(h.AsSpan(12), (uint)header.ChunkBytes);
        BinaryPrimitives.WriteInt64BigEndian(h.AsSpan(16), header.SourceBytes);
        Put(h);
    }

    public long Records { get; private set; }

    public long DataBytes { get; private set; }

    public long WireBytes { get; private set; }

    public void Write(long offset, ReadOnlySpan<byte> data)
    {
        if (data.Length == 0 || (_header.Format == DeltaFormat.VgMesh && data.Length > DeltaLayout.MaxRecordBytes))
        {
            throw new ArgumentOutOfRangeException(nameof(data), data.Length, "a record holds 1 byte to 4 MiB");
        }

        BinaryPrimitives.WriteInt64BigEndian(_head, offset);
        BinaryPrimitives.WriteUInt32BigEndian(_head.AsSpan(8), (uint)data.Length);
        Put(_head);
        Put(data);
        if (_header.Format == DeltaFormat.VgMesh)
        {
            var crc = new Crc32();
            crc.Append(_head);
            crc.Append(data);
            Span<byte> c = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(c, crc.GetCurrentHashAsUInt32());
            Put(c);
        }

        Records++;
        DataBytes += data.Length;
    }

    /// <summary>The end: vgmesh's trailer (the end marker, counts, SHA-256 of everything before); nothing for lvmsync.</summary>
    public void Finish()
    {
        if (_hash is not null)
        {
            Span<byte> end = stackalloc byte[28];
            BinaryPrimitives.WriteUInt64BigEndian(end, DeltaLayout.EndMarker);
            BinaryPrimitives.WriteUInt32BigEndian(end[8..], 0);
            BinaryPrimitives.WriteInt64BigEndian(end[12..], Records);
            BinaryPrimitives.WriteInt64BigEndian(end[20..], DataBytes);
            Put(end);
            Put(_hash.GetHashAndReset());
        }

        _out.Flush();
    }

    private void Put(ReadOnlySpan<byte> bytes)
    {
        _hash?.AppendData(bytes);
        _out.Write(bytes);
        WireBytes += bytes.Length;
    }

    public void Dispose() => _hash?.Dispose();
}

/// <summary>
/// Reads records one at a time into one buffer, checking each before it is handed over: a
/// record is never returned before its CRC matched, and the end is reported only after the
/// trailer's counts and hash matched (vgmesh format). lvmsync's stream ends at end of file.
/// </summary>
public sealed class DeltaReader : IDisposable
{
    private readonly Stream _in;
    private readonly IncrementalHash? _hash;
    private readonly byte[] _head = new byte[12];
    private readonly AlignedBuffer _buffer;

    private DeltaReader(Stream input, DeltaHeader header, IncrementalHash? hash, int bufferBytes)
    {
        _in = input;
        Header = header;
        _hash = hash;
        _buffer = new AlignedBuffer(bufferBytes);
    }

    public DeltaHeader Header { get; }

    public long Records { get; private set; }

    public long DataBytes { get; private set; }

    /// <summary>The format, from the first bytes.</summary>
    public static DeltaReader Open(Stream input, string what, int lvmsyncMaxRecord = 64 << 20)
    {
        ArgumentNullException.ThrowIfNull(input);
        var first = new byte[DeltaLayout.LvmsyncHandshake.Length];
        var n = ReadFull(input, first);
        if (n == first.Length && first.AsSpan().SequenceEqual(DeltaLayout.LvmsyncHandshake))
        {
            return new DeltaReader(input, new DeltaHeader(DeltaFormat.Lvmsync, DeltaKind.Delta, 0, 0), null, lvmsyncMaxRecord);
        }

        if (n < DeltaLayout.VgMeshMagic.Length || !first.AsSpan(0, DeltaLayout.VgMeshMagic.Length).SequenceEqual(DeltaLayout.VgMeshMagic))
        {
            throw new SyncException("stream-unknown", $"{what} is neither a vgmesh delta nor an lvmsync stream (it starts with {Printable(first.AsSpan(0, n))}).");
        }

        var h = new byte[DeltaLayout.HeaderBytes];
        first.CopyTo(h, 0);
        if (ReadFull(input, h.AsSpan(first.Length)) < h.Length - first.Length)
        {
            throw new SyncException("stream-truncated", $"{what} ends inside its header.");
        }

        var version = BinaryPrimitives.ReadUInt16BigEndian(h.AsSpan(8));
        var kind = BinaryPrimitives.ReadUInt16BigEndian(h.AsSpan(10));
        var chunk = BinaryPrimitives.ReadUInt32BigEndian(h.AsSpan(12));
        var size = BinaryPrimitives.ReadInt64BigEndian(h.AsSpan(16));
        if (version != DeltaLayout.Version || kind > 1 || size < 0)
        {
            throw new SyncException("stream-corrupt", $"{what}: unsupported header (version {version}, kind {kind}, size {size}).");
        }

        var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(h);
        return new DeltaReader(input, new DeltaHeader(DeltaFormat.VgMesh, (DeltaKind)kind, (int)chunk, size), hash, DeltaLayout.MaxRecordBytes);
    }

    /// <summary>The next record's offset and data (valid until the next call), or false at a verified end.</summary>
    public bool Next(out long offset, out ReadOnlyMemory<byte> data)
    {
        offset = 0;
        data = default;
        var n = ReadFull(_in, _head);
        if (n == 0 && Header.Format == DeltaFormat.Lvmsync)
        {
            return false;
        }

        if (n < _head.Length)
        {
            throw new SyncException("stream-truncated", Header.Format == DeltaFormat.VgMesh
                ? $"the stream ends after {Records} records ({DataBytes} bytes) without its trailer: it was cut short."
                : $"the stream ends inside a record header after {Records} records.");
        }

        var rawOffset = BinaryPrimitives.ReadUInt64BigEndian(_head);
        var length = BinaryPrimitives.ReadUInt32BigEndian(_head.AsSpan(8));
        if (Header.Format == DeltaFormat.VgMesh && rawOffset == DeltaLayout.EndMarker && length == 0)
        {
            ReadTrailer();
            return false;
        }

        if (length == 0 || length > _buffer.Length || rawOffset > (ulong)(long.MaxValue - length)
            || (Header.Format == DeltaFormat.VgMesh && (long)rawOffset + length > Header.SourceBytes))
        {
            throw new SyncException("stream-corrupt", $"record {Records + 1} is not valid (offset {rawOffset}, length {length}{(Header.Format == DeltaFormat.VgMesh ? $", source {Header.SourceBytes} bytes" : "")}).");
        }

        var body = _buffer.Memory[..(int)length];
        if (ReadFull(_in, body.Span) < length)
        {
            throw new SyncException("stream-truncated", $"the stream ends inside record {Records + 1} (offset {rawOffset}, {length} bytes).");
        }

        if (_hash is not null)
        {
            Span<byte> c = stackalloc byte[4];
            if (ReadFull(_in, c) < 4)
            {
                throw new SyncException("stream-truncated", $"the stream ends inside record {Records + 1} (offset {rawOffset}).");
            }

            var crc = new Crc32();
            crc.Append(_head);
            crc.Append(body.Span);
            if (crc.GetCurrentHashAsUInt32() != BinaryPrimitives.ReadUInt32BigEndian(c))
            {
                throw new SyncException("stream-corrupt", $"record {Records + 1} (offset {rawOffset}, {length} bytes) fails its checksum: the stream is corrupt.");
            }

            _hash.AppendData(_head);
            _hash.AppendData(body.Span);
            _hash.AppendData(c);
        }

        Records++;
        DataBytes += length;
        offset = (long)rawOffset;
        data = body;
        return true;
    }

    private void ReadTrailer()
    {
        _hash!.AppendData(_head);
        Span<byte> t = stackalloc byte[16 + 32];
        if (ReadFull(_in, t) < t.Length)
        {
            throw new SyncException("stream-truncated", "the stream ends inside its trailer.");
        }

        _hash.AppendData(t[..16]);
        var records = BinaryPrimitives.ReadInt64BigEndian(t);
        var bytes = BinaryPrimitives.ReadInt64BigEndian(t[8..]);
        if (records != Records || bytes != DataBytes || !_hash.GetHashAndReset().AsSpan().SequenceEqual(t[16..]))
        {
            throw new SyncException("stream-corrupt", $"the trailer does not match what was read ({Records} records, {DataBytes} bytes; it says {records} and {bytes}, or the hash differs): the stream is corrupt.");
        }

        Span<byte> extra = stackalloc byte[1];
        if (_in.Read(extra) != 0)
        {
            throw new SyncException("stream-corrupt", "bytes follow the stream's trailer.");
        }
    }

    /// <summary>As many bytes as the buffer holds, fewer only at the end of the stream.</summary>
    private static int ReadFull(Stream s, Span<byte> buffer) => s.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);

    private static string Printable(ReadOnlySpan<byte> b) => b.Length == 0 ? "nothing" : "\"" + new string([.. Encoding.ASCII.GetString(b).Select(c => char.IsControl(c) ? '.' : c)]) + "\"";

    public void Dispose()
    {
        _hash?.Dispose();
        _buffer.Dispose();
    }
}
