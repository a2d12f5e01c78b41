namespace VgMesh.Torture.Tests;

public sealed class SamplerTests
{
    [Fact]
    public void Parse_LiveTopDevicesOfTheVg_AFencedOneAndLayersLeftOut()
    {
        string[] lines =
        [
            "S 1765022400000000 1765022400050000",
            "san-tx1: 0 16384 linear 98:0 2048",
            "san-tx2: 0 16384 error ",
            "san-tx3-real: 0 16384 linear 98:0 4096",
            "san-tx3: 0 16384 snapshot-origin 254:1",
            "san-a--b: 0 8 linear 98:0 0",
            "other-tx4: 0 8 linear 98:0 0",
            "S 1765022400250000 1765022400300000",
            "No devices found",
        ];
        var samples = Sampler.Parse("node1", "san", lines).ToList();

        Assert.Equal(2, samples.Count);
        Assert.Equal(["a-b", "tx1", "tx3"], samples[0].Live.Order(StringComparer.Ordinal));
        Assert.Equal(TimeSpan.FromMilliseconds(50), samples[0].End - samples[0].Start);
        Assert.Equal(new DateTimeOffset(2025, 12, 6, 12, 0, 0, TimeSpan.Zero), samples[0].Start);
        Assert.Empty(samples[1].Live);
    }

    [Theory]
    [InlineData("san-tx1", "tx1")]
    [InlineData("san-a--b", "a-b")]
    [InlineData("my--vg-lv", null)]
    [InlineData("san-tx1-cow", null)]
    [InlineData("san-tx1-real", null)]
    public void LvOf_DecodesDeviceMapperNames(string dm, string? lv) => Assert.Equal(lv, Sampler.LvOf("san", dm));
}
