using VgMesh.Lvm.DeviceMapper;
using VgMesh.Lvm.Scsi;

namespace VgMesh.Agent.Tests;

public class StorageStateTests
{
    private static readonly AgentOptions Fencing = new() { VolumeGroup = "san", Cluster = "lab", Host = "node1", ReservationDevice = "/dev/mapper/luna" };
    private static readonly DateTimeOffset At = new(2026, 12, 6, 21, 30, 0, TimeSpan.Zero);

    [Fact]
    public void WithoutReservationDevice_NothingIsReported()
    {
        var s = new StorageState(new AgentOptions { VolumeGroup = "san" });
        s.Paths(new MultipathStatus([new MultipathPath("8:16", true, 0)]));
        s.Unreadable(At);
        Assert.Null(s.Current);
    }

    [Fact]
    public void PathsAndRegistration_AreKeptTogether()
    {
        var s = new StorageState(Fencing);
        var own = Fencing.OwnReservationKey;
        s.Paths(new MultipathStatus([new MultipathPath("8:16", true, 0), new MultipathPath("8:32", false, 3)]));
        s.Registration(new ReservationState([own, own], own, "Write Exclusive, registrants only"), own, lost: false, At);
        var v = s.Current!;
        Assert.Equal(("/dev/mapper/luna", own.ToString(), "registered", own.ToString()), (v.Device, v.Key, v.Registration, v.Holder));
        Assert.Equal(["active", "failed"], v.Paths.Select(p => p.State));
        Assert.Equal(3, v.Paths[1].FailCount);
    }

    [Theory]
    [InlineData(true, "preempted")]
    [InlineData(false, "unregistered")]
    public void NotRegistered_SaysWhetherItWasPreempted(bool lost, string expected)
    {
        var s = new StorageState(Fencing);
        var other = ReservationKey.For("lab", "node2");
        s.Registration(new ReservationState([other], other, "Write Exclusive, registrants only"), Fencing.OwnReservationKey, lost, At);
        Assert.Equal(expected, s.Current!.Registration);
    }

    [Fact]
    public void Unreadable_ForgetsTheHolder()
    {
        var s = new StorageState(Fencing);
        var own = Fencing.OwnReservationKey;
        s.Registration(new ReservationState([own], own, "Write Exclusive, registrants only"), own, lost: false, At);
        s.Unreadable(At.AddSeconds(2));
        Assert.Equal(("unreadable", null, At.AddSeconds(2)), (s.Current!.Registration, s.Current.Holder, s.Current.At));
    }

    [Fact]
    public void TheReport_CarriesTheStorageView()
    {
        var s = new StorageState(Fencing);
        s.Paths(new MultipathStatus([new MultipathPath("8:16", true, 0)]));
        var status = new HostStatus([new ActiveLv("vm1", 1)], [], 7, At, Storage: s.Current);
        var back = HostStatus.FromReport(status.ToReport("node1"));
        Assert.Equal("8:16", back.Storage!.Paths.Single().Device);
        Assert.Equal("vm1", back.Active.Single().Name);
    }
}
