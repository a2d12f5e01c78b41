using System.Buffers.Binary;
using System.Collections;

namespace VgMesh.Sync;

/// <summary>
/// A classic (non-thin) snapshot's persistent exception store, as the kernel writes it
/// (drivers/md/dm-snap-persistent.c), little-endian: chunk 0 is the header (magic "SnAp",
/// valid, version 1, chunk size in sectors); metadata area k is chunk <c>1 + (epa + 1) * k</c>
/// with <c>epa = chunk bytes / 16</c> exceptions of <c>old_chunk u64, new_chunk u64</c> each; the
/// list ends at the first <c>new_chunk == 0</c>. The changed data itself is read from the origin.
/// </summary>
public static class CowStore
{
    public const uint Magic = 0x70416e53;

    /// <summary>The chunks of the origin the snapshot recorded as changed, one bit each (memory: origin size / chunk / 8, whatever the delta).</summary>
    public static ChangedChunks Read(BlockFile cow, long originBytes)
    {
        ArgumentNullException.ThrowIfNull(cow);
        using var first = new AlignedBuffer(BlockFile.Alignment);
        if (cow.Read(first.Span, 0) < 16)
        {
            throw new SyncException("not-a-snapshot-store", $"{cow.Path} is too short to hold a snapshot's exception store.");
        }

        var magic = BinaryPrimitives.ReadUInt32LittleEndian(first.Span);
        var valid = BinaryPrimitives.ReadUInt32LittleEndian(first.Span[4..]);
        var version = BinaryPrimitives.ReadUInt32LittleEndian(first.Span[8..]);
        var chunkSectors = BinaryPrimitives.ReadUInt32LittleEndian(first.Span[12..]);
        if (magic != Magic)
        {
            throw new SyncException("not-a-snapshot-store", $"{cow.Path} is not a snapshot's exception store (magic 0x{magic:x8}, expected 0x{Magic:x8}). Name a classic snapshot LV, active on this host.");
        }

        if (valid != 1)
        {
            throw new SyncException("snapshot-invalid", $"{cow.Path}: the snapshot is invalid (it overflowed or failed): its changes are not known. Take a new snapshot and copy the whole volume once.");
        }

        if (version != 1 || chunkSectors < 8 || !uint.IsPow2(chunkSectors) || chunkSectors > 1024 * 1024)
        {
            throw new SyncException("not-a-snapshot-store", $"{cow.Path}: unsupported exception store (version {version}, chunk {chunkSectors} sectors).");
        }

        var chunkBytes = (int)chunkSectors * 512;
        var originChunks = (originBytes + chunkBytes - 1) / chunkBytes;
        var changed = new ChangedChunks(chunkBytes, originBytes);
        var perArea = chunkBytes / 16;
        using var area = new AlignedBuffer(chunkBytes);
        for (long k = 0; ; k++)
        {
            var at = (1 + ((long)perArea + 1) * k) * chunkBytes;
            if (cow.Read(area.Span, at) < chunkBytes)
            {
                throw new SyncException("stream-corrupt", $"{cow.Path}: metadata area {k} at byte {at} is past the end of the store; the store is damaged.");
            }

            for (var i = 0; i < perArea; i++)
            {
                var e = area.Span.Slice(i * 16, 16);
                var oldChunk = BinaryPrimitives.ReadUInt64LittleEndian(e);
                var newChunk = BinaryPrimitives.ReadUInt64LittleEndian(e[8..]);
                if (newChunk == 0)
                {
                    return changed;
                }

                if (oldChunk >= (ulong)originChunks)
                {
                    throw new SyncException("stream-corrupt", $"{cow.Path}: exception for origin chunk {oldChunk}, but the origin has {originChunks} chunks; the store does not belong to this origin.");
                }

                changed.Set((long)oldChunk);
            }
        }
    }
}

/// <summary>Changed chunks of an origin as a bitmap, walked in order as merged extents.</summary>
public sealed class ChangedChunks(int chunkBytes, long originBytes)
{
    private readonly BitArray _bits = new(checked((int)((originBytes + chunkBytes - 1) / chunkBytes)));

    public int ChunkBytes { get; } = chunkBytes;

    public long OriginBytes { get; } = originBytes;

    public long Count { get; private set; }

    public void Set(long chunk)
    {
        if (!_bits[(int)chunk])
        {
            _bits[(int)chunk] = true;
            Count++;
        }
    }

    /// <summary>Byte extents (offset, length), sorted, adjacent chunks merged, none longer than <paramref name="maxBytes"/>; the last one stops at the origin's end.</summary>
    public IEnumerable<(long Offset, int Length)> Extents(int maxBytes)
    {
        var perExtent = Math.Max(1, maxBytes / ChunkBytes);
        var i = 0;
        while (i < _bits.Length)
        {
            if (!_bits[i])
            {
                i++;
                continue;
            }

            var start = i;
            while (i < _bits.Length && _bits[i] && i - start < perExtent)
            {
                i++;
            }

            var offset = (long)start * ChunkBytes;
            yield return (offset, (int)Math.Min((long)(i - start) * ChunkBytes, OriginBytes - offset));
        }
    }
}
