using System.Buffers.Binary;
using System.Text;

namespace VgMesh.Sync.Tests;

public sealed class DeltaTests : IDisposable
{
    private const int Size = 256 * SyncFixture.Chunk;
    private readonly SyncFixture _f = new();

    public void Dispose() => _f.Dispose();

    private static byte[] Stream(DeltaFormat format, long sourceBytes, params (long Offset, byte[] Data)[] records)
    {
        using var ms = new MemoryStream();
        using (var w = new DeltaWriter(ms, new DeltaHeader(format, DeltaKind.Delta, SyncFixture.Chunk, sourceBytes)))
        {
            foreach (var (offset, data) in records)
            {
                w.Write(offset, data);
            }

            w.Finish();
        }

        return ms.ToArray();
    }

    /// <summary>Applies a stream file to a device file; the snapback, when asked, to a new file.</summary>
    private static TransferSummary Apply(byte[] stream, string dest, string? snapback = null)
    {
        using var input = new MemoryStream(stream);
        using var reader = DeltaReader.Open(input, "the stream");
        using var target = BlockFile.Open(dest, write: true);
        using var snap = snapback is null ? null : new FileStream(snapback, FileMode.CreateNew);
        using var applier = new DeltaApplier(target, snap);
        return applier.Apply(reader, TimeProvider.System);
    }

    private static void Undo(string snapback, string dest)
    {
        using var file = new FileStream(snapback, FileMode.Open, FileAccess.Read);
        using var target = BlockFile.Open(dest, write: true);
        using var applier = new DeltaApplier(target, null);
        applier.ApplySnapback(file, TimeProvider.System);
    }

    /// <summary>The whole path on files: the exception store names the chunks, the data comes from the origin, the destination ends equal to it.</summary>
    [Theory]
    [InlineData(DeltaFormat.VgMesh)]
    [InlineData(DeltaFormat.Lvmsync)]
    public void Send_ThenApply_DestinationEqualsTheOrigin(DeltaFormat format)
    {
        var before = SyncFixture.Random(Size, 1);
        var after = (byte[])before.Clone();
        var rng = new Random(7);
        var touched = new SortedSet<long>();
        for (var i = 0; i < 40; i++)
        {
            // Aligned and unaligned writes; every chunk they touch is an exception.
            var at = rng.Next(0, Size - 10000);
            var len = rng.Next(1, 9000);
            rng.NextBytes(after.AsSpan(at, len));
            for (var c = at / SyncFixture.Chunk; c <= (at + len - 1) / SyncFixture.Chunk; c++)
            {
                touched.Add(c);
            }
        }

        var origin = _f.File("origin", after);
        var dest = _f.File("dest", before);
        using var ms = new MemoryStream();
        using (var cow = BlockFile.Open(_f.File("cow", SyncFixture.CowStore([.. touched.Reverse()])), write: false))
        using (var o = BlockFile.Open(origin, write: false))
        {
            var sent = DeltaSender.Send(cow, o, ms, format, TimeProvider.System);
            Assert.Equal(touched.Count * (long)SyncFixture.Chunk, sent.DataBytes);
            // Records are merged extents, each costing 12 bytes of header (+4 of CRC in vgmesh's format).
            Assert.True(sent.WireBytes < sent.DataBytes * 1.01 + 100, $"{sent.WireBytes} on the wire for {sent.DataBytes}");
        }

        Apply(ms.ToArray(), dest);
        Assert.Equal(SyncFixture.Sha(origin), SyncFixture.Sha(dest));
    }

    /// <summary>lvmsync's layout, from the brief: "lvmsync PROTO[3]\n", then u64 BE offset, u32 BE length, data; nothing else.</summary>
    [Fact]
    public void LvmsyncFormat_ByteForByte_BothWays()
    {
        var handBuilt = new List<byte>(Encoding.ASCII.GetBytes("lvmsync PROTO[3]\n"));
        void Record(ulong offset, byte[] data)
        {
            var h = new byte[12];
            BinaryPrimitives.WriteUInt64BigEndian(h, offset);
            BinaryPrimitives.WriteUInt32BigEndian(h.AsSpan(8), (uint)data.Length);
            handBuilt.AddRange(h);
            handBuilt.AddRange(data);
        }

        Record(8192, [1, 2, 3]);
        Record(0x1_0000_0000, [9]);
        Record(7, "abc"u8.ToArray());
        Assert.Equal(handBuilt.ToArray(), Stream(DeltaFormat.Lvmsync, 0, (8192, [1, 2, 3]), (0x1_0000_0000, [9]), (7, "abc"u8.ToArray())));

        using var reader = DeltaReader.Open(new MemoryStream([.. handBuilt]), "fixture");
        Assert.Equal(DeltaFormat.Lvmsync, reader.Header.Format);
        var read = new List<(long, string)>();
        while (reader.Next(out var offset, out var data))
        {
            read.Add((offset, Convert.ToHexString(data.Span)));
        }

        Assert.Equal([(8192L, "010203"), (0x1_0000_0000L, "09"), (7L, "616263")], read);
    }

    [Fact]
    public void Truncated_IsRefused_AndTheSnapbackUndoesTheRest()
    {
        var original = SyncFixture.Random(Size, 2);
        var dest = _f.File("dest", original);
        var stream = Stream(DeltaFormat.VgMesh, Size, (0, SyncFixture.Random(5000, 3)), (40000, SyncFixture.Random(100, 4)), (80000, SyncFixture.Random(8192, 5)));
        var cut = stream[..(stream.Length - 4000)];
        var e = Assert.Throws<SyncException>(() => Apply(cut, dest, _f.Path("snap1")));
        Assert.Equal("stream-truncated", e.Code);
        Assert.Equal(5100, e.BytesWritten);
        Assert.NotEqual(SyncFixture.Sha(_f.File("o", original)), SyncFixture.Sha(dest));
        Undo(_f.Path("snap1"), dest);
        Assert.Equal(SyncFixture.Sha(_f.Path("o")), SyncFixture.Sha(dest));

        // A stream cut exactly between records, without its trailer, is refused too (lvmsync's would end there with success).
        var noTrailer = stream[..(32 + 12 + 5000 + 4)];
        Assert.Equal("stream-truncated", Assert.Throws<SyncException>(() => Apply(noTrailer, dest)).Code);
    }

    [Fact]
    public void Corrupt_IsRefusedBeforeTheRecordIsWritten_AndTheSnapbackUndoesTheRest()
    {
        var original = SyncFixture.Random(Size, 6);
        var dest = _f.File("dest", original);
        var stream = Stream(DeltaFormat.VgMesh, Size, (4096, SyncFixture.Random(4096, 7)), (100000, SyncFixture.Random(3000, 8)), (200000, SyncFixture.Random(3000, 9)));
        stream[32 + 12 + 4096 + 4 + 12 + 10] ^= 0x40; // a bit in record 2's data
        var e = Assert.Throws<SyncException>(() => Apply(stream, dest, _f.Path("snap")));
        Assert.Equal("stream-corrupt", e.Code);
        Assert.Contains("record 2", e.Message, StringComparison.Ordinal);
        Assert.Equal(4096, e.BytesWritten);
        Assert.Equal(original.AsSpan(100000, 3000).ToArray(), File.ReadAllBytes(dest).AsSpan(100000, 3000).ToArray());
        Undo(_f.Path("snap"), dest);
        Assert.Equal(original, File.ReadAllBytes(dest));
    }

    [Fact]
    public void TrailerThatDoesNotMatch_IsRefused()
    {
        var stream = Stream(DeltaFormat.VgMesh, Size, (0, [1, 2, 3]));
        stream[^1] ^= 1;
        Assert.Equal("stream-corrupt", Assert.Throws<SyncException>(() => Apply(stream, _f.File("d", new byte[Size]))).Code);
        Assert.Equal("stream-corrupt", Assert.Throws<SyncException>(() => Apply([.. Stream(DeltaFormat.VgMesh, Size, (0, [1])), 0], _f.Path("d"))).Code);
        Assert.Equal("stream-unknown", Assert.Throws<SyncException>(() => Apply("hello there, not a stream"u8.ToArray(), _f.Path("d"))).Code);
    }

    [Fact]
    public void SmallerDestination_IsRefused_NothingWritten()
    {
        var dest = _f.File("small", new byte[Size / 2]);
        var e = Assert.Throws<SyncException>(() => Apply(Stream(DeltaFormat.VgMesh, Size, (0, [1, 2, 3])), dest));
        Assert.Equal("destination-too-small", e.Code);
        Assert.Equal(0, e.BytesWritten);
        Assert.All(File.ReadAllBytes(dest), b => Assert.Equal(0, b));
        // lvmsync's stream carries no size: the record that does not fit is refused, the ones before were written.
        var l = Assert.Throws<SyncException>(() => Apply(Stream(DeltaFormat.Lvmsync, 0, (0, [1]), (Size, [2])), dest));
        Assert.Equal(("destination-too-small", 1L), (l.Code, l.BytesWritten));
    }

    /// <summary>Three syncs with snapbacks, overlapping records among them; the snapbacks in reverse give back each earlier state.</summary>
    [Fact]
    public void SnapbackChain_RestoresEachEarlierState()
    {
        var dest = _f.File("dest", SyncFixture.Random(Size, 10));
        var states = new List<string> { SyncFixture.Sha(dest) };
        for (var i = 1; i <= 3; i++)
        {
            var overlapping = Stream(DeltaFormat.VgMesh, Size,
                (1000 * i, SyncFixture.Random(6000, 20 + i)), (3000 * i, SyncFixture.Random(5000, 30 + i)), (1000 * i + 10, SyncFixture.Random(100, 40 + i)));
            Apply(overlapping, dest, _f.Path($"snapback{i}"));
            states.Add(SyncFixture.Sha(dest));
        }

        for (var i = 3; i >= 1; i--)
        {
            Undo(_f.Path($"snapback{i}"), dest);
            Assert.Equal(states[i - 1], SyncFixture.Sha(dest));
        }
    }

    [Fact]
    public void SnapbackFromAPipe_IsRefused()
    {
        var dest = _f.File("dest", new byte[Size]);
        Apply(Stream(DeltaFormat.VgMesh, Size, (0, [1])), dest, _f.Path("sb"));
        var e = Assert.Throws<SyncException>(() => Apply(File.ReadAllBytes(_f.Path("sb")), dest));
        Assert.Equal("snapback-needs-file", e.Code);
    }
}
