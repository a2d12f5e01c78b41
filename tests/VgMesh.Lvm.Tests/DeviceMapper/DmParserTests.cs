using VgMesh.Lvm.DeviceMapper;

namespace VgMesh.Lvm.Tests.DeviceMapper;

public class DmParserTests
{
    [Fact]
    public void ParseInfo_RecordedDevices_ReadsOpenCountsAndLayers()
    {
        var devices = DmParser.ParseInfo(Fixture.Read("dmsetup-info.txt")).ToDictionary(d => d.Name);
        var data = devices["fx-data"];
        Assert.Equal(254, data.Major);
        Assert.Equal(1, data.OpenCount);
        Assert.True(data.LiveTable);
        Assert.False(data.Suspended);
        Assert.False(data.ReadOnly);
        Assert.True(data.IsLvm);
        Assert.False(data.IsLvmLayer);
        Assert.True(devices["fx-data-real"].IsLvmLayer);
        Assert.True(devices["fx-data--snap-cow"].IsLvmLayer);
        Assert.False(devices["fx-errtest"].IsLvm);
        Assert.True(devices["fx-pool"].ReadOnly);
    }

    [Fact]
    public void ParseInfoAndTable_NoDevices_Empty()
    {
        Assert.Empty(DmParser.ParseInfo(Fixture.Read("dmsetup-info-none.txt")));
        Assert.Empty(DmParser.ParseTable(Fixture.Read("dmsetup-table-none.txt")));
    }

    [Fact]
    public void ParseTable_RecordedTables_DecodesEveryTarget()
    {
        var lines = DmParser.ParseTable(Fixture.Read("dmsetup-table.txt"));
        var byDevice = lines.GroupBy(l => l.Device).ToDictionary(g => g.Key, g => g.ToList());

        var real = Assert.IsType<LinearTarget>(Assert.Single(byDevice["fx-data-real"]).Target);
        Assert.Equal("98:0", real.Device);
        Assert.Equal(2048, real.OffsetSectors);

        Assert.IsType<SnapshotOriginTarget>(byDevice["fx-data"][0].Target);
        var snap = Assert.IsType<SnapshotTarget>(byDevice["fx-data--snap"][0].Target);
        Assert.True(snap.Persistent);
        Assert.Equal(16, snap.ChunkSectors); // 8 KiB chunks asked for at lvcreate
        Assert.False(snap.Merging);

        var striped = Assert.IsType<StripedTarget>(byDevice["fx-striped"][0].Target);
        Assert.Equal(2, striped.Stripes);
        Assert.Equal(8, striped.ChunkSectors);
        Assert.Equal(2, striped.Legs.Count);

        var thin = Assert.IsType<ThinTarget>(byDevice["fx-thin1"][0].Target);
        Assert.Equal(1, thin.DeviceId);
        var pool = Assert.IsType<ThinPoolTarget>(byDevice["fx-pool-tpool"][0].Target);
        Assert.Equal(128, pool.DataBlockSectors);
        Assert.Empty(pool.Features);

        Assert.IsType<ErrorTarget>(byDevice["fx-errtest"][0].Target);
    }

    [Fact]
    public void ParseTable_RoundTripsParameters()
    {
        foreach (var line in DmParser.ParseTable(Fixture.Read("dmsetup-table.txt")))
        {
            var original = Fixture.Read("dmsetup-table.txt").Split('\n').First(l => l.StartsWith(line.Device + ": " + line.StartSector + " ", StringComparison.Ordinal));
            Assert.Equal(original.TrimEnd(), $"{line.Device}: {line.StartSector} {line.LengthSectors} {line.Target.Type} {line.Target.Parameters}".TrimEnd());
        }
    }

    [Fact]
    public void ParseTable_PeerAfterExtend_ShowsOldSize()
    {
        var line = Assert.Single(DmParser.ParseTable("fx-other--lv", Fixture.Read("dmsetup-table-stale-node2.txt")));
        Assert.Equal(65536, line.LengthSectors); // 32 MiB: the metadata already says 48 MiB
    }

    [Fact]
    public void ParseStatus_RecordedStatus_DecodesSnapshotThinAndPool()
    {
        var status = DmParser.ParseStatus(Fixture.Read("dmsetup-status.txt")).ToDictionary(s => s.Device);
        var snap = Assert.IsType<SnapshotStatus>(status["fx-data--snap"].Status);
        Assert.Equal(SnapshotHealth.Valid, snap.Health);
        Assert.True(snap.AllocatedSectors > 0);
        Assert.Equal(16384, snap.TotalSectors);
        Assert.InRange(snap.UsedPercent, 1, 99);

        var full = Assert.IsType<SnapshotStatus>(status["fx-small--full"].Status);
        Assert.Equal(SnapshotHealth.Invalid, full.Health);
        Assert.Equal(100, full.UsedPercent);

        var thin = Assert.IsType<ThinStatus>(status["fx-thin1"].Status);
        Assert.False(thin.Failed);
        Assert.Equal(8192, thin.MappedSectors);

        var pool = Assert.IsType<ThinPoolStatus>(status["fx-pool-tpool"].Status);
        Assert.Equal("rw", pool.Mode);
        Assert.True(pool.UsedDataBlocks > 0);
        Assert.Equal(1, pool.TransactionId);

        Assert.IsType<RawStatus>(status["fx-data-real"].Status);
    }

    [Fact]
    public void ParseTableAndStatus_MergeInProgress_SnapshotMerge()
    {
        var t = Assert.IsType<SnapshotTarget>(Assert.Single(DmParser.ParseTable("fx-busy", Fixture.Read("dmsetup-table-merge.txt"))).Target);
        Assert.True(t.Merging);
        Assert.Equal("snapshot-merge", t.Type);
        var s = Assert.IsType<SnapshotStatus>(Assert.Single(DmParser.ParseStatus("fx-busy", Fixture.Read("dmsetup-status-merge.txt"))).Status);
        Assert.Equal(SnapshotHealth.Valid, s.Health);
    }

    [Theory]
    [InlineData("snapshot", "Overflow", SnapshotHealth.Overflow)]
    [InlineData("snapshot", "Merge failed", SnapshotHealth.MergeFailed)]
    [InlineData("snapshot-merge", "Invalid", SnapshotHealth.Invalid)]
    public void ParseTargetStatus_SnapshotStates(string type, string text, SnapshotHealth health) =>
        Assert.Equal(health, Assert.IsType<SnapshotStatus>(DmParser.ParseTargetStatus(type, text.Split(' '))).Health);

    [Theory]
    [InlineData("linear 98:0")]
    [InlineData("striped 2 8 254:0 0")]
    [InlineData("snapshot 254:2")]
    public void ParseTarget_Truncated_FormatException(string text)
    {
        var f = text.Split(' ');
        var e = Assert.Throws<FormatException>(() => DmParser.ParseTarget(f[0], f[1..]));
        Assert.Contains(f[0], e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("-f")]
    [InlineData("a/b")]
    [InlineData("")]
    [InlineData("x y")]
    public void ValidateName_Hostile_Refused(string name) => Assert.Throws<InvalidLvmNameException>(() => DmSetup.ValidateName(name));
}
