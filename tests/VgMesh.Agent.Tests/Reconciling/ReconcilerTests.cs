using VgMesh.Agent.Reconciling;

namespace VgMesh.Agent.Tests.Reconciling;

public class ReconcilerTests
{
    private const long MiB = 1024 * 1024;
    private static string U(char c) => new(c, 32);

    private static DesiredState Desired(params DesiredLv[] lvs) => new("san", "vguuid", lvs.ToDictionary(l => l.Name));

    private static DesiredLv Lv(string name, char uuid, long size = 64 * MiB, HostIntent intent = HostIntent.Unmanaged, string[]? elsewhere = null, bool snapshot = false) =>
        new(name, U(uuid), size, intent, true, elsewhere ?? [], CompareTableSize: !snapshot);

    private static DeviceState Dev(string name, char uuid, long sectors = 64 * MiB / 512, int open = 0, bool layer = false) => new(name, U(uuid), layer, open, sectors);

    private static ActualState Actual(params DeviceState[] devices) => new(devices, new HashSet<string>());

    [Fact]
    public void Plan_InSync_Nothing() =>
        Assert.Empty(Reconciler.Plan(Desired(Lv("a", 'a')), Actual(Dev("san-a", 'a'))));

    [Fact]
    public void Plan_LvRemovedElsewhere_StackRemovedTopsBeforeLayers()
    {
        // A snapshot 's' of a removed origin 'o': tops first, then -real and -cow.
        var actions = Reconciler.Plan(Desired(), Actual(
            Dev("san-o-real", 'o', open: 2, layer: true), Dev("san-s-cow", 's', open: 1, layer: true), Dev("san-o", 'o'), Dev("san-s", 's')));
        Assert.Equal(["san-o", "san-s", "san-o-real", "san-s-cow"], actions.Cast<RemoveStaleDevice>().Select(a => a.Subject));
    }

    [Fact]
    public void Plan_StaleDeviceOpen_AlertNeverForced()
    {
        var actions = Reconciler.Plan(Desired(), Actual(Dev("san-gone", 'g', open: 1), Dev("san-gone-real", 'g', layer: true)));
        var alert = Assert.IsType<Alert>(Assert.Single(actions));
        Assert.Equal("stale-device-open", alert.Code);
        Assert.Contains("san-gone", alert.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Plan_PeerExtended_RefreshBySizeOrLvmMismatch()
    {
        Assert.IsType<Refresh>(Assert.Single(Reconciler.Plan(Desired(Lv("a", 'a', 96 * MiB)), Actual(Dev("san-a", 'a', 64 * MiB / 512)))));
        var flagged = new ActualState([Dev("san-a", 'a')], new HashSet<string> { "a" });
        Assert.IsType<Refresh>(Assert.Single(Reconciler.Plan(Desired(Lv("a", 'a')), flagged)));
    }

    [Fact]
    public void Plan_Snapshot_TableSizeIsTheOrigins_NoRefresh() =>
        Assert.Empty(Reconciler.Plan(Desired(Lv("snap", 's', 8 * MiB, snapshot: true)), Actual(Dev("san-snap", 's', 64 * MiB / 512))));

    [Fact]
    public void Plan_ClaimedByAnotherHost_Deactivate_OrAlertWhenOpen()
    {
        Assert.IsType<Deactivate>(Assert.Single(Reconciler.Plan(Desired(Lv("a", 'a', intent: HostIntent.InactiveHere)), Actual(Dev("san-a", 'a')))));
        var alert = Assert.IsType<Alert>(Assert.Single(Reconciler.Plan(Desired(Lv("a", 'a', intent: HostIntent.InactiveHere)), Actual(Dev("san-a", 'a', open: 1)))));
        Assert.Equal("deactivate-blocked", alert.Code);
    }

    [Fact]
    public void Plan_ClaimedHere_ActivateOnlyOnceNoOtherHostHasIt()
    {
        Assert.Equal(new Activate("a", true), Assert.Single(Reconciler.Plan(Desired(Lv("a", 'a', intent: HostIntent.ActiveHere)), Actual())));
        var wait = Assert.IsType<Alert>(Assert.Single(Reconciler.Plan(Desired(Lv("a", 'a', intent: HostIntent.ActiveHere, elsewhere: ["node1"])), Actual())));
        Assert.Equal("handoff-waiting", wait.Code);
        Assert.Contains("node1", wait.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Plan_ActiveHereAndElsewhere_WithoutASharedClaim_AuditAlertFirst()
    {
        // No claim (both activated by hand): the alert, nothing forced.
        var alert = Assert.IsType<Alert>(Assert.Single(Reconciler.Plan(Desired(Lv("a", 'a', elsewhere: ["node1"])), Actual(Dev("san-a", 'a')))));
        Assert.Equal(Reconciler.DoubleActiveCode, alert.Code);
        Assert.Contains("node1", alert.Message, StringComparison.Ordinal);

        // Claimed by node1, activated here by hand: the alert, then the deactivation that ends it.
        var actions = Reconciler.Plan(Desired(Lv("a", 'a', intent: HostIntent.InactiveHere, elsewhere: ["node1"])), Actual(Dev("san-a", 'a')));
        Assert.Equal(Reconciler.DoubleActiveCode, Assert.IsType<Alert>(actions[0]).Code);
        Assert.IsType<Deactivate>(actions[1]);

        // Claimed here exclusively, activated by hand on node2: the holder raises it too.
        Assert.Equal(Reconciler.DoubleActiveCode,
            Assert.IsType<Alert>(Assert.Single(Reconciler.Plan(Desired(Lv("a", 'a', intent: HostIntent.ActiveHere, elsewhere: ["node2"])), Actual(Dev("san-a", 'a'))))).Code);
    }

    [Fact]
    public void Plan_ActiveHereAndElsewhere_UnderASharedClaim_NoAlert() =>
        Assert.Empty(Reconciler.Plan(Desired(Lv("a", 'a', intent: HostIntent.ActiveHere, elsewhere: ["node1"]) with { Exclusive = false }), Actual(Dev("san-a", 'a'))));

    [Fact]
    public void Plan_Unmanaged_ActivationLeftAlone()
    {
        Assert.Empty(Reconciler.Plan(Desired(Lv("a", 'a')), Actual()));
        Assert.Empty(Reconciler.Plan(Desired(Lv("a", 'a')), Actual(Dev("san-a", 'a'))));
    }

    [Fact]
    public void Plan_PhasesInOrder_TeardownRefreshActivate()
    {
        var actions = Reconciler.Plan(
            Desired(Lv("mine", 'm', intent: HostIntent.ActiveHere), Lv("grown", 'g', 96 * MiB), Lv("theirs", 't', intent: HostIntent.InactiveHere)),
            Actual(Dev("san-grown", 'g', 64 * MiB / 512), Dev("san-theirs", 't'), Dev("san-old", 'o')));
        Assert.Equal([typeof(RemoveStaleDevice), typeof(Deactivate), typeof(Refresh), typeof(Activate)], actions.Select(a => a.GetType()));
    }

    [Fact]
    public void Plan_SharedClaim_ActivatesWithoutWaitingForOtherHolders()
    {
        var shared = new DesiredLv("c", U('c'), 64 * MiB, HostIntent.ActiveHere, Exclusive: false, ActiveElsewhere: ["node1"]);
        var activate = Assert.IsType<Activate>(Assert.Single(Reconciler.Plan(Desired(shared), Actual())));
        Assert.False(activate.Exclusive);

        var exclusive = shared with { Exclusive = true };
        Assert.Equal("handoff-waiting", Assert.IsType<Alert>(Assert.Single(Reconciler.Plan(Desired(exclusive), Actual()))).Code);
    }

    [Fact]
    public void PlanDrift_RefreshesOnlyPlainLvsActiveHereWhoseTableDiffers_NeverAFencedOne()
    {
        var metadata = new List<VgMesh.Lvm.OnDisk.MetadataLv>
        {
            new("grown", U('a'), 96 * MiB, true),
            new("same", U('b'), 64 * MiB, true),
            new("fenced", U('c'), 96 * MiB, true),
            new("cow", U('d'), 8 * MiB, false), // a snapshot's store: its device maps the origin's size
            new("elsewhere", U('e'), 96 * MiB, true), // not active here as the last pass found
            new("new", U('f'), 96 * MiB, true), // active here but not believed so: the full pass looks at it
        };
        var tops = new Dictionary<string, long> { [U('a')] = 64 * MiB / 512, [U('b')] = 64 * MiB / 512, [U('c')] = 64 * MiB / 512, [U('d')] = 64 * MiB / 512, [U('f')] = 64 * MiB / 512 };
        var actions = Reconciler.PlanDrift(new VgMesh.Lvm.OnDisk.VgMetadata("san", 9, metadata), tops, new HashSet<string> { "grown", "same", "fenced", "cow", "elsewhere" },
            new HashSet<string> { "fenced" }, _ => null, _ => null);
        Assert.Equal([new Refresh("grown")], actions);
    }

    /// <summary>Extents of 4 MiB (8192 sectors) on pv0 from sector 2048, device 98:0.</summary>
    private static VgMesh.Lvm.OnDisk.VgMetadata Linear(params VgMesh.Lvm.OnDisk.LinearSegment[] segments) =>
        new("san", 9, [new("data", U('a'), segments.Sum(s => s.Extents) * 4 * MiB, true)])
        {
            ExtentSectors = 8192,
            Pvs = new Dictionary<string, VgMesh.Lvm.OnDisk.MetadataPv> { ["pv0"] = new("pv0", "PV-UUID", 2048) },
            Linear = new Dictionary<string, IReadOnlyList<VgMesh.Lvm.OnDisk.LinearSegment>> { ["data"] = segments },
        };

    private static VgMesh.Lvm.OnDisk.LinearSegment Seg(long start, long extents, long pvStart) => new(start, extents, "pv0", pvStart);

    private static VgMesh.Lvm.DeviceMapper.DmTableLine Line(long start, long length, long offset) =>
        new("san-data", start, length, new VgMesh.Lvm.DeviceMapper.LinearTarget("98:0", offset));

    [Fact]
    public void PlanDrift_AnExtendOfALinearLv_GrowsItsTableFromTheMetadata_AnythingElseIsRefreshed()
    {
        // Extended from 2 extents at pv0:0 by one at pv0:5 (not contiguous: a second line).
        var md = Linear(Seg(0, 2, 0), Seg(2, 1, 5));
        var tops = new Dictionary<string, long> { [U('a')] = 2 * 8192 };
        IReadOnlySet<string> here = new HashSet<string> { "data" }, none = new HashSet<string>();
        var live = new[] { Line(0, 2 * 8192, 2048) };
        var grow = Assert.IsType<GrowTable>(Assert.Single(Reconciler.PlanDrift(md, tops, here, none, _ => live, id => id == "PV-UUID" ? "98:0" : null)));
        Assert.Equal([Line(0, 2 * 8192, 2048), Line(2 * 8192, 8192, 2048 + (5 * 8192))], grow.Table);

        // A contiguous extend: LVM merged it into the one segment, which grows.
        var merged = Linear(Seg(0, 3, 0));
        grow = Assert.IsType<GrowTable>(Assert.Single(Reconciler.PlanDrift(merged, tops, here, none, _ => live, _ => "98:0")));
        Assert.Equal([Line(0, 3 * 8192, 2048)], grow.Table);

        // The live table maps other extents (moved, or not this LV's), the PV is not known here,
        // or the live table cannot be read: LVM's refresh.
        Assert.IsType<Refresh>(Assert.Single(Reconciler.PlanDrift(md, tops, here, none, _ => [Line(0, 2 * 8192, 4096)], _ => "98:0")));
        Assert.IsType<Refresh>(Assert.Single(Reconciler.PlanDrift(md, tops, here, none, _ => live, _ => null)));
        Assert.IsType<Refresh>(Assert.Single(Reconciler.PlanDrift(md, tops, here, none, _ => null, _ => "98:0")));

        // A reduce: never by a computed table.
        var reduced = Linear(Seg(0, 1, 0));
        Assert.IsType<Refresh>(Assert.Single(Reconciler.PlanDrift(reduced, tops, here, none, _ => live, _ => "98:0")));
    }
}
