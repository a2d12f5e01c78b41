using VgMesh.Agent.Operations;

namespace VgMesh.Agent.Tests.Operations;

public class VolumeErrorsTests
{
    private static readonly VolumeException[] Samples =
    [
        new LvInUse(["node1", "node2"], "san/vm is active on node1, node2; deactivate it there first (vgmesh lv deactivate vm)."),
        new HostDown("node3", "vm is active on node3, which is not a reachable member now."),
        new NotCoordinator("node1 asked under lease generation 4, but the lease row says generation 5 held by b; nothing was run."),
        NoCoordinator.OutcomeUnknown("op-1", TimeSpan.FromSeconds(30)),
        new LvNotFound("san/gone"),
        new UnknownHost("node9", "host 'node9' is not a live member of this cluster; 'vgmesh host list' shows the members."),
        new InvalidSize("size '-3G' must be absolute here (no + or -)"),
        new BadRequest("a snapshot needs a name"),
        new AlreadyExists("san/b", "san/b already exists; choose another name."),
        new ShrinkRefused("extend of san/a to 4096 bytes would shrink it; use reduce (with the LV inactive everywhere)."),
        new CannotDelegate("vm is active on node2, where this change must run, but node2 has no TCP API address (TcpListen); configure it, or deactivate the LV first."),
        new OperationRefused("insufficient-space", "volume group 'san' has 3 free extents but 10 are needed."),
    ];

    [Fact]
    public void FromCode_OfARecordedRefusal_GivesTheSameTypeCodeAndMessage()
    {
        foreach (var error in Samples)
        {
            var back = VolumeException.FromCode(error.Code, error.Message);
            Assert.IsType(error.GetType(), back);
            Assert.Equal(error.Code, back.Code);
            Assert.Equal(error.Message, back.Message);
        }
    }

    [Fact]
    public void LvInUse_FromCode_KeepsTheHosts()
    {
        var back = Assert.IsType<LvInUse>(VolumeException.FromCode("in-use", new LvInUse(["node1", "node2"], "busy").Message));
        Assert.Equal(["node1", "node2"], back.Hosts);
        Assert.Equal("LvInUse(node1, node2): busy", back.Message);
    }

    [Fact]
    public void HostDown_FromCode_KeepsTheHost() =>
        Assert.Equal("node3", Assert.IsType<HostDown>(VolumeException.FromCode("host-down", "HostDown(node3): gone")).Host);

    [Fact]
    public void FromCode_OfAMessageFromAPeer_StillTyped()
    {
        // A peer's problem arrives prefixed with where it came from: the type holds, the detail is whole.
        var back = Assert.IsType<LvInUse>(VolumeException.FromCode("in-use", "on node2: 'san-vm' is open on this host."));
        Assert.Empty(back.Hosts);
        Assert.EndsWith("on node2: 'san-vm' is open on this host.", back.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("not-found", 404)]
    [InlineData("unknown-host", 404)]
    [InlineData("invalid-name", 400)]
    [InlineData("in-use", 409)]
    [InlineData("host-down", 409)]
    [InlineData("cannot-delegate", 409)]
    [InlineData("no-coordinator", 503)]
    [InlineData("not-leader", 503)]
    [InlineData("timeout", 504)]
    [InlineData("failed", 500)]
    public void StatusOf_EachCode_TheApisStatus(string code, int status) => Assert.Equal(status, VolumeException.StatusOf(code));

    [Fact]
    public void OutcomeUnknown_SaysItMayStillRun_AndNamesTheOperation()
    {
        var e = NoCoordinator.OutcomeUnknown("op-7", TimeSpan.FromSeconds(12));
        Assert.Equal("op-7", e.OperationId);
        Assert.Contains("may still run", e.Message, StringComparison.Ordinal);
        Assert.Contains("--operation-id op-7", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("failed", e.Message, StringComparison.Ordinal);
    }
}
