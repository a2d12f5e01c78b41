namespace VgMesh.Lvm.Tests;

public class LvmNamesTests
{
    [Theory]
    [InlineData("vg0")]
    [InlineData("a-b_c.d+e")]
    [InlineData("x")]
    public void ValidateLv_LvmName_Accepted(string name) => Assert.Equal(name, LvmNames.ValidateLv(name));

    [Theory]
    [InlineData("@tag", "'@' selects objects by tag")]
    [InlineData("vg/../x", "'/' separates a VG from an LV")]
    [InlineData("-n", "may not start with '-'")]
    [InlineData("--yes", "may not start with '-'")]
    [InlineData("my lv", "U+0020")]
    [InlineData("lv\n", "U+000A")]
    [InlineData("lv;rm", "';' is not allowed")]
    [InlineData("$(reboot)", "'$' is not allowed")]
    [InlineData("ümlaut", "'ü' is not allowed")]
    [InlineData(".", "'.' and '..' are not names")]
    [InlineData("..", "'.' and '..' are not names")]
    [InlineData("", "it is empty")]
    [InlineData("snapshot1", "may not start with 'snapshot'")]
    [InlineData("pvmove0", "may not start with 'pvmove'")]
    [InlineData("data_tmeta", "may not contain '_tmeta'")]
    [InlineData("x_rimage_0", "may not contain '_rimage'")]
    [InlineData("x_cow_mlog", "may not contain '_mlog'")]
    public void ValidateLv_HostileName_RefusedNamingTheRule(string name, string rule)
    {
        var e = Assert.Throws<InvalidLvmNameException>(() => LvmNames.ValidateLv(name));
        Assert.Contains(rule, e.Message, StringComparison.Ordinal);
        Assert.Equal("invalid-name", e.Code);
        Assert.Contains("nothing was changed", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ValidateLv_128Characters_Refused()
    {
        Assert.Equal(127, LvmNames.ValidateLv(new string('a', 127)).Length);
        var e = Assert.Throws<InvalidLvmNameException>(() => LvmNames.ValidateLv(new string('a', 128)));
        Assert.Contains("at most 127", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ValidateVg_ReservedLvWordsAllowed_ButCharsetEnforced()
    {
        Assert.Equal("snapshotvg", LvmNames.ValidateVg("snapshotvg"));
        Assert.Throws<InvalidLvmNameException>(() => LvmNames.ValidateVg("vg@x"));
    }

    [Theory]
    [InlineData("owner=ct1")]
    [InlineData("tier.gold")]
    [InlineData("a/b:c&d#e!f")]
    public void ValidateTag_LvmTag_Accepted(string tag) => Assert.Equal(tag, LvmNames.ValidateTag(tag));

    [Theory]
    [InlineData("")]
    [InlineData("-x")]
    [InlineData("a b")]
    [InlineData("a@b")]
    public void ValidateTag_Hostile_Refused(string tag) => Assert.Throws<InvalidLvmNameException>(() => LvmNames.ValidateTag(tag));

    [Fact]
    public void LvRef_BareVgWhereLvMeant_Refused()
    {
        Assert.Throws<InvalidLvmNameException>(() => LvRef.Parse("vg0"));
        Assert.Throws<InvalidLvmNameException>(() => LvRef.Parse("vg0/a/b"));
        Assert.Throws<InvalidLvmNameException>(() => LvRef.Parse("/lv"));
        Assert.Throws<InvalidLvmNameException>(() => LvRef.Parse("vg0/@tag"));
    }

    [Fact]
    public void LvRef_DmName_DoublesDashes()
    {
        var lv = LvRef.Parse("my-vg/a-b");
        Assert.Equal("my--vg-a--b", lv.DmName);
        Assert.Equal("/dev/my-vg/a-b", lv.DevicePath);
        Assert.Equal("my-vg/a-b", lv.FullName);
    }
}
