using VgMesh.Lvm.Reports;

namespace VgMesh.Lvm.Tests.Reports;

public class LvAttributesTests
{
    [Fact]
    public void Parse_StaleTableOnPeer_AllUnknown()
    {
        var a = LvAttributes.Parse("-wi-XX--X-");
        Assert.Equal(LvVolumeType.Plain, a.VolumeType);
        Assert.Equal(LvAccess.Writeable, a.Access);
        Assert.Equal(LvAllocationPolicy.Inherited, a.AllocationPolicy);
        Assert.Equal(LvState.Unknown, a.State);
        Assert.Equal(LvDeviceOpenState.Unknown, a.DeviceOpen);
        Assert.Equal(LvHealth.Unknown, a.Health);
        Assert.True(a.KernelStateUnknown);
    }

    [Fact]
    public void Parse_OpenOrigin_Decoded()
    {
        var a = LvAttributes.Parse("owi-aos---");
        Assert.Equal(LvVolumeType.Origin, a.VolumeType);
        Assert.Equal(LvState.Active, a.State);
        Assert.Equal(LvDeviceOpenState.Open, a.DeviceOpen);
        Assert.Equal(LvTargetType.Snapshot, a.TargetType);
        Assert.Equal(LvHealth.Ok, a.Health);
    }

    [Fact]
    public void Parse_ThinPoolAndLocks_Decoded()
    {
        var a = LvAttributes.Parse("twi-aotz-k");
        Assert.Equal(LvVolumeType.ThinPool, a.VolumeType);
        Assert.Equal(LvTargetType.Thin, a.TargetType);
        Assert.True(a.ZeroNewBlocks);
        Assert.True(a.SkipActivation);
        var locked = LvAttributes.Parse("-rCma-----");
        Assert.True(locked.AllocationLocked);
        Assert.Equal(LvAllocationPolicy.Contiguous, locked.AllocationPolicy);
        Assert.True(locked.FixedMinor);
        Assert.Equal(LvAccess.ReadOnly, locked.Access);
    }

    [Theory]
    [InlineData("")]
    [InlineData("-wi-a----")]
    [InlineData("-wi-a------")]
    public void Parse_WrongLength_Refused(string attr) => Assert.Throws<FormatException>(() => LvAttributes.Parse(attr));
}
