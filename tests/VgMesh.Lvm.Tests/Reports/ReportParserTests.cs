using VgMesh.Lvm.Reports;

namespace VgMesh.Lvm.Tests.Reports;

public class ReportParserTests
{
    [Fact]
    public void ParseVgs_RecordedReport_ReadsSizesAndSeqno()
    {
        var vg = Assert.Single(ReportParser.ParseVgs(Fixture.Read("vgs.json")));
        Assert.Equal("fx", vg.Name);
        Assert.Equal(4L * 1024 * 1024, vg.ExtentSizeBytes);
        Assert.Equal(vg.ExtentCount * vg.ExtentSizeBytes, vg.SizeBytes);
        Assert.Equal(vg.FreeExtentCount * vg.ExtentSizeBytes, vg.FreeBytes);
        Assert.True(vg.Seqno > 1);
        Assert.Equal("", vg.LockType);
        Assert.False(vg.UsesLvmLockd);
        Assert.Equal(1, vg.PvCount);
    }

    [Fact]
    public void ParsePvs_RecordedReport_ReadsThePv()
    {
        var pv = Assert.Single(ReportParser.ParsePvs(Fixture.Read("pvs.json")));
        Assert.Equal("/dev/ubda", pv.Name);
        Assert.Equal("fx", pv.VgName);
        Assert.True(pv.FreeBytes < pv.SizeBytes);
    }

    [Fact]
    public void ParseLvs_RecordedReport_DecodesEveryKind()
    {
        var lvs = ReportParser.ParseLvs(Fixture.Read("lvs.json")).ToDictionary(l => l.Name);

        var data = lvs["data"];
        Assert.Equal(64L * 1024 * 1024, data.SizeBytes);
        Assert.Equal(LvVolumeType.Origin, data.Attributes.VolumeType);
        Assert.True(data.Active && data.ActiveLocally && data.DeviceOpen);
        Assert.Equal(["owner=ct1", "tier.gold"], data.Tags);
        Assert.Equal("fx-data", data.DmName);

        var snap = lvs["data-snap"];
        Assert.True(snap.IsSnapshot);
        Assert.Equal("data", snap.Origin);
        Assert.Equal(8192, snap.ChunkSizeBytes);
        Assert.NotNull(snap.DataPercent);
        Assert.InRange(snap.DataPercent!.Value, 0.01, 100);

        var full = lvs["small-full"];
        Assert.Equal(LvState.InvalidSnapshot, full.Attributes.State);

        Assert.Equal(LvVolumeType.ThinPool, lvs["pool"].Attributes.VolumeType);
        Assert.Equal(LvVolumeType.ThinVolume, lvs["thin1"].Attributes.VolumeType);
        Assert.Equal("pool", lvs["thin1"].PoolLv);

        var spare = lvs["lvol0_pmspare"];
        Assert.True(spare.IsHidden);
        Assert.False(spare.Active);
        Assert.Null(spare.KernelMajor);
        Assert.All(lvs.Values, l => Assert.False(l.TableMismatch));
    }

    [Fact]
    public void ParseLvs_HostThatMissedAnExtend_FoldsSegmentRowsAndFlagsMismatch()
    {
        // node2 had the LV active when node1 extended it: LVM prints a row per segment, the
        // second with -wi-XX--X-, and warns "Cannot find matching striped segment".
        var lv = Assert.Single(ReportParser.ParseLvs(Fixture.Read("lvs-stale-node2.json")));
        Assert.Equal("other-lv", lv.Name);
        Assert.Equal(2, lv.SegmentCount);
        Assert.Equal(48L * 1024 * 1024, lv.SizeBytes);
        Assert.True(lv.TableMismatch);
    }

    [Fact]
    public void ParseLvs_DeferredMerge_ShowsMergingOrigin()
    {
        var lv = Assert.Single(ReportParser.ParseLvs(Fixture.Read("lvs-merge-deferred.json")));
        Assert.Equal(LvVolumeType.OriginMerging, lv.Attributes.VolumeType);
        Assert.True(lv.Merging);
    }

    [Fact]
    public void ParseVgOfLvs_TheVgColumnsOfAnLvReport_AsVgsReportsThem()
    {
        // Recorded in a lab host, with vgs at the same moment reporting the same VG field for field.
        var json = Fixture.Read("lvs-with-vg.json");
        var vg = ReportParser.ParseVgOfLvs(json)!;
        Assert.Equal(("san", "Pdkali-z8db-Kaoj-jdnr-3AC8-Wvha-RcDsUx", 2143289344L, 2134900736L, 4194304L, 511L, 509L, 2L, "wz--n-", "", 1, 0, 1),
            (vg.Name, vg.Uuid, vg.SizeBytes, vg.FreeBytes, vg.ExtentSizeBytes, vg.ExtentCount, vg.FreeExtentCount, vg.Seqno, vg.Attr, vg.LockType, vg.LvCount, vg.SnapshotCount, vg.PvCount));
        Assert.Empty(vg.Tags);
        Assert.Equal("fx1", Assert.Single(ReportParser.ParseLvs(json)).Name);
    }

    [Fact]
    public void ParseVgOfLvs_VgWithoutLvs_Null() =>
        Assert.Null(ReportParser.ParseVgOfLvs("{\"report\": [{\"lv\": []}]}"));

    [Fact]
    public void ParseVgs_NotJson_FormatExceptionNamesTheCause() =>
        Assert.Throws<FormatException>(() => ReportParser.ParseVgs("  Volume group \"x\" not found"));

    [Fact]
    public void RecordFixturesScript_AsksForTheDriversColumns()
    {
        var script = File.ReadAllText(Path.Combine(global::VgMesh.Lab.Lab.RepoRoot, "ops", "record-fixtures"));
        Assert.Contains($"VG_COLS={ReportColumns.Vg}\n", script, StringComparison.Ordinal);
        Assert.Contains($"PV_COLS={ReportColumns.Pv}\n", script, StringComparison.Ordinal);
        Assert.Contains($"LV_COLS={ReportColumns.Lv}\n", script, StringComparison.Ordinal);
        Assert.Contains($"VG_OF_LV_COLS={ReportColumns.VgOfLv}\n", script, StringComparison.Ordinal);
        Assert.Contains($"-o {VgMesh.Lvm.DeviceMapper.DmParser.InfoArgs[^1]})", script, StringComparison.Ordinal);
    }
}
