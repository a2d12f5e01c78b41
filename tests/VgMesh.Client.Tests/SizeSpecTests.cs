namespace VgMesh.Client.Tests;

public class SizeSpecTests
{
    [Theory]
    [InlineData("10G", 10L << 30, 0)]
    [InlineData("+2G", 2L << 30, 1)]
    [InlineData("-512m", 512L << 20, -1)]
    [InlineData("100", 100L << 20, 0)]
    [InlineData("1.5g", 3L << 29, 0)]
    [InlineData("8s", 4096, 0)]
    [InlineData("4096b", 4096, 0)]
    [InlineData("1T", 1L << 40, 0)]
    public void Parse_LvmUnits(string text, long bytes, int sign) => Assert.Equal(new SizeSpec(bytes, sign), SizeSpec.Parse(text));

    [Theory]
    [InlineData("")]
    [InlineData("G")]
    [InlineData("1X")]
    [InlineData("-0")]
    [InlineData("ten")]
    [InlineData("1,5G")]
    [InlineData("99999999999e")]
    [InlineData("8\0M")] // .NET's decimal parser alone takes trailing NULs
    [InlineData("8\0")]
    [InlineData("8 M")]
    [InlineData("8M;reboot")]
    public void Parse_NotASize_SaysWhatIs(string text)
    {
        var e = Assert.Throws<FormatException>(() => SizeSpec.Parse(text));
        Assert.Contains(text.Length == 0 ? "size" : text, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Resolve_RelativeAndAbsolute()
    {
        Assert.Equal(12L << 30, SizeSpec.Parse("+2G").Resolve(10L << 30));
        Assert.Equal(8L << 30, SizeSpec.Parse("-2G").Resolve(10L << 30));
        Assert.Equal(4L << 30, SizeSpec.Parse("4G").Resolve(10L << 30));
    }
}
