namespace VgMesh.Sync.Tests;

/// <summary>thin_delta's report (thin-provisioning-tools 0.9, without --verbose) as the chunks to send.</summary>
public sealed class ThinDeltaReportTests
{
    private const long Block = 64 * 1024; // data_block_size 128 sectors

    private static string Report(string ranges, long left = 3, long right = 1) => $"""
        <superblock uuid="" time="2" transaction="5" data_block_size="128" nr_data_blocks="1024" metadata_snap="17">
          <diff left="{left}" right="{right}">
        {ranges}
          </diff>
        </superblock>
        """;

    private static ChangedChunks Read(string xml, long originBytes = 100 * Block) =>
        ThinDeltaReport.Read(new StringReader(xml), 3, 1, originBytes);

    [Fact]
    public void Different_RightOnly_AndLeftOnly_AreSent_SameIsNot()
    {
        var changed = Read(Report("""
                <same begin="0" length="4"/>
                <different begin="4" length="2"/>
                <same begin="6" length="10"/>
                <right_only begin="20" length="1"/>
                <left_only begin="30" length="3"/>
            """));
        Assert.Equal(Block, changed.ChunkBytes);
        Assert.Equal(6, changed.Count);
        // left_only: the origin discarded those blocks and now reads zeros there; so must the copy.
        Assert.Equal([(4 * Block, (int)(2 * Block)), (20 * Block, (int)Block), (30 * Block, (int)(3 * Block))], changed.Extents(DeltaLayout.MaxRecordBytes));
    }

    [Fact]
    public void NoDifferences_NothingToSend()
    {
        Assert.Equal(0, Read(Report("""<same begin="0" length="100"/>""")).Count);
        Assert.Equal(0, Read(Report("")).Count);
    }

    [Fact]
    public void TheLastBlock_StopsAtTheOriginsEnd()
    {
        var changed = Read(Report("""<different begin="99" length="1"/>"""), 99 * Block + 4096);
        Assert.Equal([(99 * Block, 4096)], changed.Extents(DeltaLayout.MaxRecordBytes));
    }

    [Theory]
    [InlineData("<different begin=\"99\" length=\"2\"/>", "outside the origin")]
    [InlineData("<different begin=\"-1\" length=\"2\"/>", "no number in begin")]
    [InlineData("<different begin=\"4\"/>", "no number in length")]
    [InlineData("<mapping begin=\"4\" length=\"1\"/>", "does not write")]
    [InlineData("<different begin=\"4\" length=\"1\">", "not well-formed")]
    public void ADamagedReport_IsRefused_NamingWhy(string ranges, string why)
    {
        var e = Assert.Throws<SyncException>(() => Read(Report(ranges)));
        Assert.Equal("thin-delta-unreadable", e.Code);
        Assert.Contains(why, e.Message, StringComparison.Ordinal);
        Assert.Contains("Nothing was sent", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AReportOfOtherDevices_OrWithoutADiff_IsRefused()
    {
        Assert.Contains("not 3 and 1", Assert.Throws<SyncException>(() => Read(Report("", left: 1, right: 3))).Message, StringComparison.Ordinal);
        Assert.Contains("no <diff>", Assert.Throws<SyncException>(() => Read("""<superblock uuid="" time="2" transaction="5" data_block_size="128" nr_data_blocks="1024"></superblock>""")).Message, StringComparison.Ordinal);
        Assert.Contains("not one a thin pool has", Assert.Throws<SyncException>(() => Read(Report("").Replace("\"128\"", "\"100\"", StringComparison.Ordinal))).Message, StringComparison.Ordinal);
        // No DTD, so no entity can reach outside the report.
        Assert.Contains("not well-formed", Assert.Throws<SyncException>(() => Read("<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>" + Report(""))).Message, StringComparison.Ordinal);
    }
}
