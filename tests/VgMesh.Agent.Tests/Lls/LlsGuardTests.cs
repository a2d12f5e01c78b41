using VgMesh.Agent.Lls;
using VgMesh.Agent.Operations;
using VgMesh.Lvm;
using VgMesh.Lvm.Reports;

namespace VgMesh.Agent.Tests.Lls;

public class LlsGuardTests
{
    private const long MiB = 1 << 20;
    private static readonly string Mine = LlsNames.OwnerTag("node1/c1");

    private static LogicalVolume Lv(string name, long size, string attr = "-wi-------", string? origin = null, params string[] tags) =>
        new(name, "san", "u-" + name, size, LvAttributes.Parse(attr), origin, null, null, 1, tags, false, false, false, false, null, null, 0, false, false, false);

    private static readonly IReadOnlyList<LogicalVolume> Vg =
    [
        Lv("lls.node1.c1.data", 64 * MiB, tags: Mine),
        Lv("lls.node1.c1.snap", 16 * MiB, "swi-a-s---", "lls.node1.c1.data", Mine),
        Lv("lls.node1.c2.data", 64 * MiB, tags: LlsNames.OwnerTag("node1/c2")),
        Lv("lls.node1.c1.untagged", 8 * MiB),
    ];

    private static void Check(string kind, string lv, LvOperation args, params string[] vgTags) => LlsGuard.Check(kind, new LvRef("san", lv), args, Vg, vgTags);

    [Fact]
    public void AnLvWithoutTheOwnersTag_IsNotFound_WhateverItsName()
    {
        Assert.Throws<LvNotFound>(() => Check(OperationKinds.Remove, "lls.node1.c1.untagged", new LvOperation("lls.node1.c1.untagged", Owner: "node1/c1")));
        Assert.Throws<LvNotFound>(() => Check(OperationKinds.Remove, "lls.node1.c2.data", new LvOperation("lls.node1.c2.data", Owner: "node1/c1")));
        Assert.Throws<LvNotFound>(() => Check(OperationKinds.Extend, "nope", new LvOperation("nope", 1, 1, Owner: "node1/c1")));
        Check(OperationKinds.Remove, "lls.node1.c1.snap", new LvOperation("lls.node1.c1.snap", Owner: "node1/c1"));
    }

    [Fact]
    public void OverQuota_RefusedWithTheFigures()
    {
        var quota = new LlsQuota { MaxBytes = 100 * MiB, MaxVolumes = 3, MaxSnapshots = 1, MaxSnapshotBytes = 32 * MiB };
        var e = Assert.Throws<OperationRefused>(() => Check(OperationKinds.Create, "lls.node1.c1.big", new LvOperation("lls.node1.c1.big", 40 * MiB, Owner: "node1/c1", Quota: quota)));
        Assert.Equal("over-quota", e.Code);
        Assert.Contains($"{120 * MiB} bytes in all, over the {100 * MiB} allowed", e.Message, StringComparison.Ordinal);
        Check(OperationKinds.Create, "lls.node1.c1.ok", new LvOperation("lls.node1.c1.ok", 20 * MiB, Owner: "node1/c1", Quota: quota));

        var snap = Assert.Throws<OperationRefused>(() => Check(OperationKinds.Snapshot, "lls.node1.c1.data", new LvOperation("lls.node1.c1.data", 8 * MiB, NewName: "lls.node1.c1.s2", Owner: "node1/c1", Quota: quota)));
        Assert.Contains("2 snapshots, over the 1 allowed", snap.Message, StringComparison.Ordinal);

        var grow = Assert.Throws<OperationRefused>(() => Check(OperationKinds.Extend, "lls.node1.c1.snap", new LvOperation("lls.node1.c1.snap", 20 * MiB, 1, Owner: "node1/c1", Quota: quota)));
        Assert.Contains($"a snapshot of {36 * MiB} bytes, over the {32 * MiB} allowed", grow.Message, StringComparison.Ordinal);
    }

    /// <summary>The same VG as the metadata on disk has it (what the coordinator reads instead of an lvs): hidden LVs left out, the same answers.</summary>
    [Fact]
    public void FromTheMetadataOnDisk_TheSameAnswers()
    {
        var vg = new VgMesh.Lvm.OnDisk.VgMetadata("san", 9,
            [.. Vg.Select(l => new VgMesh.Lvm.OnDisk.MetadataLv(l.Name, l.Uuid, l.SizeBytes, false) { Tags = l.Tags, Visible = true, IsSnapshot = l.IsSnapshot }),
                new VgMesh.Lvm.OnDisk.MetadataLv("snapshot0", "u", 64 * MiB, false) { Tags = [Mine] }])
        {
            Tags = ["lls.quota=node1/c1:volumes=2"],
        };
        var quota = new LlsQuota { MaxBytes = 100 * MiB, MaxSnapshotBytes = 32 * MiB };
        var grow = new LvOperation("lls.node1.c1.snap", 20 * MiB, 1, Owner: "node1/c1", Quota: quota);
        var fromLvs = Assert.Throws<OperationRefused>(() => Check(OperationKinds.Extend, "lls.node1.c1.snap", grow, vg.Tags[0]));
        var fromDisk = Assert.Throws<OperationRefused>(() => LlsGuard.Check(OperationKinds.Extend, new LvRef("san", "lls.node1.c1.snap"), grow, vg));
        Assert.Equal(fromLvs.Message, fromDisk.Message);
        Assert.Throws<LvNotFound>(() => LlsGuard.Check(OperationKinds.Remove, new LvRef("san", "lls.node1.c2.data"), new LvOperation("lls.node1.c2.data", Owner: "node1/c1"), vg));
        var create = new LvOperation("lls.node1.c1.new", 8 * MiB, Owner: "node1/c1", Quota: quota);
        Assert.Contains("3 volumes, over the 2 allowed",
            Assert.Throws<OperationRefused>(() => LlsGuard.Check(OperationKinds.Create, new LvRef("san", "lls.node1.c1.new"), create, vg)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LimitsSetInTheVgsTags_OverrideTheHostsConfiguredOnes_OnePerLimit()
    {
        var configured = new LlsQuota { MaxBytes = 100 * MiB, MaxVolumes = 3 };
        var create = new LvOperation("lls.node1.c1.new", 8 * MiB, Owner: "node1/c1", Quota: configured);
        Check(OperationKinds.Create, "lls.node1.c1.new", create);

        var lowered = Assert.Throws<OperationRefused>(() => Check(OperationKinds.Create, "lls.node1.c1.new", create, "lls.quota=node1/c1:volumes=2"));
        Assert.Contains("3 volumes, over the 2 allowed", lowered.Message, StringComparison.Ordinal);
        Assert.Contains("vgmesh lls quota set", lowered.Message, StringComparison.Ordinal);

        // bytes=none lifts the configured 100 MiB; volumes stays the configured 3.
        Check(OperationKinds.Create, "lls.node1.c1.new", create with { SizeBytes = 500 * MiB }, "lls.quota=node1/c1:bytes=none");
        // Another container's limits and tags this version cannot read change nothing.
        Check(OperationKinds.Create, "lls.node1.c1.new", create, "lls.quota=node1/c2:volumes=0", "lls.quota=node1/c1:colour=blue", "other");
    }

    [Theory]
    [InlineData("data")]
    [InlineData("a+b_c-1")]
    public void LvName_PrefixesTheOwner(string name) => Assert.Equal($"lls.node1.c1.{name}", LlsNames.LvName("node1", "c1", name));

    [Theory]
    [InlineData("../x")]
    [InlineData("a.b")]
    [InlineData("-x")]
    [InlineData("")]
    [InlineData("x/y")]
    [InlineData("x_tdata")]
    public void LvName_RefusesWhatCouldLeaveThePrefix(string name) => Assert.Throws<InvalidLvmNameException>(() => LlsNames.LvName("node1", "c1", name));

    [Fact]
    public void VolumeOf_OnlyUnderTheCallersPrefix()
    {
        Assert.Equal("data", LlsNames.VolumeOf("lls.node1.c1.data", "node1", "c1"));
        Assert.Null(LlsNames.VolumeOf("lls.node1.c10.data", "node1", "c1"));
        Assert.Null(LlsNames.VolumeOf("lls.node2.c1.data", "node1", "c1"));
    }

    [Fact]
    public void Options_NameTheBadSetting()
    {
        var problems = new LlsOptions { Containers = [new LlsContainer { Name = "-x" }, new LlsContainer { Name = "a" }, new LlsContainer { Name = "a", Cgroup = "rel" }] }.Problems().ToList();
        Assert.Contains(problems, p => p.Contains("'-x' is not a container name", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("'a' is listed twice", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("the cgroup 'rel' of a", StringComparison.Ordinal));
    }

    [Fact]
    public void MakeDev_IsGlibcs()
    {
        Assert.Equal((253UL << 8) | 3UL, ContainerDevices.MakeDev(new DeviceNumber(253, 3)));
        Assert.Equal((253UL << 8) | 0x34UL | (0x12UL << 20), ContainerDevices.MakeDev(new DeviceNumber(253, 0x1234)));
    }
}
