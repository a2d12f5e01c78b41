namespace VgMesh.Lvm.Tests;

public sealed class LvRefTests
{
    [Theory]
    [InlineData("san", "san-tx1", "tx1")]
    [InlineData("san", "san-a--b", "a-b")]
    [InlineData("my-vg", "my--vg-lv--1", "lv-1")]
    [InlineData("san", "san-tx1-real", null)]
    [InlineData("san", "san-tx1s-cow", null)]
    [InlineData("san", "other-tx1", null)]
    [InlineData("san", "san-", null)]
    [InlineData("my-vg", "my-vg-lv", null)]
    public void LvOfDmName_InvertsDmNameOf_LayersAndOtherVgsAreNull(string vg, string dm, string? lv)
    {
        Assert.Equal(lv, LvRef.LvOfDmName(vg, dm));
        if (lv is not null)
        {
            Assert.Equal(dm, LvRef.DmNameOf(vg, lv));
        }
    }
}
