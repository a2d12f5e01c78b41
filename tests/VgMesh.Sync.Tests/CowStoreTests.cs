namespace VgMesh.Sync.Tests;

public sealed class CowStoreTests : IDisposable
{
    private readonly SyncFixture _f = new();

    public void Dispose() => _f.Dispose();

    private ChangedChunks Read(byte[] store, long originBytes)
    {
        using var cow = BlockFile.Open(_f.File("cow", store), write: false);
        return CowStore.Read(cow, originBytes);
    }

    [Fact]
    public void Exceptions_BecomeSortedMergedExtents()
    {
        var changed = Read(SyncFixture.CowStore([5, 3, 4, 100, 3]), 128 * SyncFixture.Chunk);
        Assert.Equal(4, changed.Count);
        Assert.Equal([(3L * 4096, 3 * 4096), (100L * 4096, 4096)], changed.Extents(DeltaLayout.MaxRecordBytes));
        Assert.Equal([(3L * 4096, 2 * 4096), (5L * 4096, 4096), (100L * 4096, 4096)], changed.Extents(2 * 4096));
    }

    /// <summary>256 exceptions fill area 0 (4 KiB chunks); the rest are in area 1, at chunk 1 + 257.</summary>
    [Fact]
    public void SecondMetadataArea_IsRead()
    {
        var chunks = Enumerable.Range(0, 300).Select(i => (long)(i * 2)).ToList();
        var changed = Read(SyncFixture.CowStore(chunks), 1000L * SyncFixture.Chunk);
        Assert.Equal(300, changed.Count);
        Assert.Equal(300, changed.Extents(DeltaLayout.MaxRecordBytes).Count());
        Assert.Equal(598L * 4096, changed.Extents(DeltaLayout.MaxRecordBytes).Last().Offset);
    }

    [Fact]
    public void NotAStore_Invalid_OrForAnotherOrigin_AreRefused()
    {
        Assert.Equal("not-a-snapshot-store", Assert.Throws<SyncException>(() => Read(SyncFixture.CowStore([1], magic: 0x12345678), 1 << 20)).Code);
        var invalid = Assert.Throws<SyncException>(() => Read(SyncFixture.CowStore([1], valid: 0), 1 << 20));
        Assert.Equal("snapshot-invalid", invalid.Code);
        Assert.Contains("Take a new snapshot", invalid.Message, StringComparison.Ordinal);
        Assert.Equal("stream-corrupt", Assert.Throws<SyncException>(() => Read(SyncFixture.CowStore([500]), 10 * SyncFixture.Chunk)).Code);
        Assert.Equal("not-a-snapshot-store", Assert.Throws<SyncException>(() => Read(new byte[8], 1 << 20)).Code);
    }

    [Fact]
    public void MissingDevice_NamesIt()
    {
        var e = Assert.Throws<SyncException>(() => BlockFile.Open(_f.Path("nope"), write: false));
        Assert.Equal("not-found", e.Code);
        Assert.Contains(_f.Path("nope"), e.Message, StringComparison.Ordinal);
    }
}
