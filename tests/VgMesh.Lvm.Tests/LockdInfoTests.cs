namespace VgMesh.Lvm.Tests;

public class LockdInfoTests
{
    [Fact]
    public void Parse_RecordedInfo_LockspaceAndLvLocks()
    {
        // Recorded on node1 of an --lockd lab while it held san/a exclusively.
        var info = LockdInfo.Parse(Fixture.Read("lvmlockctl-info.txt"));

        var vg = Assert.Single(info.Vgs);
        Assert.Equal("san", vg.Name);
        Assert.Equal("sanlock", vg.LockType);
        Assert.Equal("lvm_san", vg.Lockspace);
        Assert.Equal([new LvLock("5UtLqO-0GWn-PhrJ-bdfn-NJ3j-PIAb-3T6AbR", "ex")], vg.LvLocks.ToArray());
        Assert.Same(vg, info.Vg("san"));
        Assert.Null(info.Vg("other"));
    }

    [Fact]
    public void Parse_VgWithoutLockspace_IsNotStarted()
    {
        var info = LockdInfo.Parse("VG a lock_type=sanlock u1\nLK VG un ver 0\nVG b lock_type=dlm u2\nLS dlm lvm_b\n");

        Assert.Equal([null, "lvm_b"], info.Vgs.Select(v => v.Lockspace));
        Assert.All(info.Vgs, v => Assert.Empty(v.LvLocks));
    }

    [Fact]
    public void Parse_Nothing_NoVgs() => Assert.Empty(LockdInfo.Parse("").Vgs);
}

public class LvmLocalConfTests
{
    [Theory]
    [InlineData(null, null)]
    [InlineData("", null)]
    [InlineData("local {\n    host_id = 7\n}\n", 7)]
    [InlineData("local {\n    # host_id = 7\n    system_id = \"x\"\n}\n", null)]
    public void HostId_ReadsTheSettingNotAComment(string? text, int? expected) => Assert.Equal(expected, LvmLocalConf.HostId(text));

    [Fact]
    public void WithHostId_ReplacesTheSetting_KeepsTheRest()
    {
        var text = "# mine\nlocal {\n    system_id = \"a\"\n    host_id = 7\n}\n";

        var changed = LvmLocalConf.WithHostId(text, 12);

        Assert.Equal("# mine\nlocal {\n    system_id = \"a\"\n    host_id = 12\n}\n", changed);
    }

    [Fact]
    public void WithHostId_AddsToAnExistingLocalSection()
    {
        var changed = LvmLocalConf.WithHostId("local {\n    # host_id = 1\n}\n", 3);

        Assert.Equal(3, LvmLocalConf.HostId(changed));
        Assert.StartsWith("local {\n    host_id = 3\n    # host_id = 1\n}", changed, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("# nothing here")]
    public void WithHostId_NoLocalSection_AddsOne(string? text)
    {
        var changed = LvmLocalConf.WithHostId(text, 2);

        Assert.Equal(2, LvmLocalConf.HostId(changed));
        Assert.EndsWith("local {\n    host_id = 2\n}\n", changed, StringComparison.Ordinal);
    }
}

public class SanlockLeasesTests
{
    // Recorded on node3 of an --lockd lab holding san/vm1 exclusively.
    private static readonly string Status = Fixture.Read("sanlock-client-status.txt");

    [Fact]
    public void ParseStatus_RecordedStatus_TheLvLeaseLvmlockdHolds()
    {
        var r = Assert.Single(SanlockLeases.ParseStatus(Status));

        Assert.Equal(new SanlockResource("lvm_san", "wfY9Yq-e1JE-6baT-7X8i-Qjks-Mfxa-m0HCAL", "/dev/mapper/san-lvmlock", 70254592, 750), r);
        Assert.Equal("lvm_san:wfY9Yq-e1JE-6baT-7X8i-Qjks-Mfxa-m0HCAL:/dev/mapper/san-lvmlock:70254592", r.Spec);
        Assert.Equal(r, SanlockResource.ForLv("san", "wfY9Yq-e1JE-6baT-7X8i-Qjks-Mfxa-m0HCAL", 70254592, 750));
    }

    [Fact]
    public void LvmlockdPid_FromTheClientList() => Assert.Equal(750, SanlockLeases.LvmlockdPid(Status));

    [Fact]
    public void ParseRenewals_RecordedDebugStatus_TheLockspaceRenewedOnSanlocksClock()
    {
        // Recorded on node3 of an --lockd lab (io_timeout 2) holding one LV ex and one sh, 2026-12-07.
        var debug = Fixture.Read("sanlock-client-status-debug.txt");

        var r = Assert.Single(SanlockLeases.ParseRenewals(debug));

        Assert.Equal(new LockspaceRenewal("lvm_san", 2, 1, 204, 204, false, 207), r);
        Assert.Equal(3, r.SecondsSinceRenewal); // read 3 s after the last renewal, io_timeout 2
        Assert.Equal(2, SanlockLeases.ParseStatus(debug).Count); // the plain parser reads the resources of the debug form too
        Assert.Equal(750, SanlockLeases.LvmlockdPid(debug));
    }

    [Fact]
    public void ParseRenewals_FailingRenewal_AgeAndResult()
    {
        var r = Assert.Single(SanlockLeases.ParseRenewals(
            "daemon node2\n    monotime=530\ns lvm_san:2:/dev/mapper/san-lvmlock:0\n    io_timeout=10\n    renew_fail=1\n    renewal_last_result=-202\n    renewal_last_attempt=520\n    renewal_last_success=470\n"));

        Assert.Equal(60, r.SecondsSinceRenewal);
        Assert.Equal(-202, r.LastResult);
        Assert.True(r.RenewFail);
        Assert.Empty(SanlockLeases.ParseRenewals("daemon node2\n    monotime=530\n")); // no lockspace joined
    }

    [Fact]
    public void LvmlockdPid_NotRegistered_Null() => Assert.Null(SanlockLeases.LvmlockdPid("daemon node3\np -1 helper\n"));

    [Fact]
    public void DashedUuid_AsLvmPrintsIt()
    {
        Assert.Equal("wfY9Yq-e1JE-6baT-7X8i-Qjks-Mfxa-m0HCAL", SanlockLeases.DashedUuid("wfY9Yqe1JE6baT7X8iQjksMfxam0HCAL"));
        Assert.Throws<ArgumentException>(() => SanlockLeases.DashedUuid("short"));
    }
}
