using VgMesh.Lvm.DeviceMapper;
using VgMesh.Lvm.OnDisk;
using VgMesh.Lvm.Reports;

namespace VgMesh.Lvm.Tests.InLab;

/// <summary>Every public operation of the driver, once, against real LVM 2.03.16 in lab hosts.</summary>
[Collection("lvm-lab")]
public class LvmDriverLabTests(LvmLabFixture lab)
{
    private const long MiB = 1024 * 1024;
    private static LvRef Lv(string name) => new(LvmLabFixture.Vg, name);

    [Fact]
    public async Task Reports_RealVgPvLv_Typed()
    {
        var d = lab.Driver();
        var created = await d.CreateLvAsync(new CreateLvRequest(Lv("rep"), 8 * MiB, ["owner=ct9"]), lab.Permit);

        var vg = await d.GetVgAsync(LvmLabFixture.Vg);
        Assert.Equal(vg.Seqno, created); // what the write itself reported committing
        Assert.Contains(vg, await d.ListVgsAsync());
        Assert.Equal(4 * MiB, vg.ExtentSizeBytes);
        var pv = Assert.Single(await d.ListPvsAsync());
        Assert.Equal("/dev/ubda", pv.Name);
        var lv = await d.GetLvAsync(Lv("rep"));
        Assert.Equal(8 * MiB, lv.SizeBytes);
        Assert.Equal(["owner=ct9"], lv.Tags);
        Assert.True(lv.Active);
        Assert.Equal(vg.Seqno, lv.VgSeqno);
        Assert.Contains(await d.ListLvsAsync(LvmLabFixture.Vg), l => l.Uuid == lv.Uuid);

        var removed = await d.RemoveLvAsync(Lv("rep"), lab.Permit);
        Assert.True(removed > vg.Seqno);
        Assert.Equal((await d.GetVgAsync(LvmLabFixture.Vg)).Seqno, removed);
    }

    [Fact]
    public async Task CreateExtendRefreshReduceRenameRemove_AcrossTwoHosts()
    {
        var n1 = lab.Driver("node1");
        var n2 = lab.Driver("node2");
        var dm2 = lab.Dm("node2");
        await n1.CreateLvAsync(new CreateLvRequest(Lv("grow"), 16 * MiB, Activate: false), lab.Permit);
        Assert.False((await n1.GetLvAsync(Lv("grow"))).Active);

        await n2.ActivateAsync(Lv("grow"), ActivationMode.Exclusive);
        await n1.ExtendLvAsync(Lv("grow"), 32 * MiB, lab.Permit);

        // node2's kernel still has the old table until it refreshes: the multi-host problem.
        Assert.Equal(16 * MiB / 512, Assert.Single(await dm2.TableAsync(Lv("grow").DmName)).LengthSectors);
        Assert.True((await n2.GetLvAsync(Lv("grow"))).TableMismatch);
        await n2.RefreshAsync(Lv("grow"));
        Assert.Equal(32 * MiB / 512, (await dm2.TableAsync(Lv("grow").DmName)).Sum(l => l.LengthSectors));
        Assert.False((await n2.GetLvAsync(Lv("grow"))).TableMismatch);

        await n2.DeactivateAsync(Lv("grow"));
        await n1.ReduceLvAsync(Lv("grow"), 8 * MiB, lab.Permit);
        Assert.Equal(8 * MiB, (await n1.GetLvAsync(Lv("grow"))).SizeBytes);
        await n1.RenameLvAsync(Lv("grow"), "grown", lab.Permit);
        await Assert.ThrowsAsync<LvmNotFoundException>(() => n1.GetLvAsync(Lv("grow")));
        await n1.RemoveLvAsync(Lv("grown"), lab.Permit);
        Assert.DoesNotContain(await n1.ListLvsAsync(LvmLabFixture.Vg), l => l.Name.StartsWith("grow", StringComparison.Ordinal));
    }

    /// <summary>
    /// The drift watch grows a table it computed from the metadata on disk instead of running
    /// LVM: that table must be LVM's own, line for line. An LV of three runs (extended past
    /// another LV, then contiguously, which LVM merges), read from the shared image with
    /// O_DIRECT as an agent reads its PV, against the table LVM loaded on node2.
    /// </summary>
    [Fact]
    public async Task LinearTable_FromTheMetadataOnDisk_IsTheTableLvmLoads()
    {
        var n1 = lab.Driver("node1");
        await n1.CreateLvAsync(new CreateLvRequest(Lv("lt1"), 8 * MiB, Activate: false), lab.Permit);
        await n1.CreateLvAsync(new CreateLvRequest(Lv("lt2"), 4 * MiB, Activate: false), lab.Permit);
        await n1.ExtendLvAsync(Lv("lt1"), 16 * MiB, lab.Permit);
        await n1.CreateLvAsync(new CreateLvRequest(Lv("lt3"), 4 * MiB, Activate: false), lab.Permit);
        await n1.ExtendLvAsync(Lv("lt1"), 24 * MiB, lab.Permit);
        await n1.ExtendLvAsync(Lv("lt1"), 28 * MiB, lab.Permit);
        try
        {
            await lab.Driver("node2").ActivateAsync(Lv("lt1"), ActivationMode.Exclusive);
            var dm2 = lab.Dm("node2");
            var lvms = await dm2.TableAsync(Lv("lt1").DmName);

            var image = Path.Combine((await lab.Lab.EnvAsync())["VGMESH_LAB_DIR"], "san.img");
            using var area = MetadataArea.Open(image)!;
            var vg = MetadataText.Parse(area.Text(area.Fingerprint()));
            var pv = Assert.Single(await n1.ListPvsAsync());
            var number = (await lab.OnAsync("node2", "cat", "/sys/class/block/ubda/dev")).Trim();
            var ours = LinearTable.For(vg, "lt1", Lv("lt1").DmName, id => id == pv.Uuid ? number : null);

            Assert.True(lvms.Count >= 3, $"lt1 should map several runs: {lvms.Count}");
            Assert.Equal(lvms, ours);
        }
        finally
        {
            await lab.Driver("node2").DeactivateAsync(Lv("lt1"));
            foreach (var lv in new[] { "lt1", "lt2", "lt3" })
            {
                await n1.RemoveLvAsync(Lv(lv), lab.Permit);
            }
        }
    }

    [Fact]
    public async Task ActivationModes_EachActivatesAndDeactivates()
    {
        var d = lab.Driver();
        await d.CreateLvAsync(new CreateLvRequest(Lv("modes"), 4 * MiB, Activate: false), lab.Permit);
        foreach (var mode in Enum.GetValues<ActivationMode>())
        {
            await d.ActivateAsync(Lv("modes"), mode);
            Assert.True((await d.GetLvAsync(Lv("modes"))).ActiveLocally, mode.ToString());
            await d.DeactivateAsync(Lv("modes"));
            Assert.False((await d.GetLvAsync(Lv("modes"))).Active, mode.ToString());
        }

        await d.RemoveLvAsync(Lv("modes"), lab.Permit);
    }

    [Fact]
    public async Task TagsAndPermission_Changed()
    {
        var d = lab.Driver();
        await d.CreateLvAsync(new CreateLvRequest(Lv("tagged"), 4 * MiB), lab.Permit);
        await d.AddTagAsync(Lv("tagged"), "lls.ct1", lab.Permit);
        Assert.Equal(["lls.ct1"], (await d.GetLvAsync(Lv("tagged"))).Tags);
        await d.RemoveTagAsync(Lv("tagged"), "lls.ct1", lab.Permit);
        Assert.Empty((await d.GetLvAsync(Lv("tagged"))).Tags);
        await d.SetReadOnlyAsync(Lv("tagged"), true, lab.Permit);
        Assert.Equal(LvAccess.ReadOnly, (await d.GetLvAsync(Lv("tagged"))).Attributes.Access);
        await d.SetReadOnlyAsync(Lv("tagged"), false, lab.Permit);
        Assert.Equal(LvAccess.Writeable, (await d.GetLvAsync(Lv("tagged"))).Attributes.Access);
        await d.RemoveLvAsync(Lv("tagged"), lab.Permit);
    }

    [Fact]
    public async Task SnapshotAndMerge_RestoresOriginData()
    {
        var d = lab.Driver();
        var dm = lab.Dm();
        await d.CreateLvAsync(new CreateLvRequest(Lv("orig"), 16 * MiB), lab.Permit);
        await lab.OnAsync("node1", "sh", "-c", "printf AAAA | dd of=/dev/vgt/orig conv=notrunc,fsync status=none");
        await d.CreateSnapshotAsync(Lv("orig"), "orig-snap", 8 * MiB, 16 * 1024, null, lab.Permit);
        var snap = await d.GetLvAsync(Lv("orig-snap"));
        Assert.True(snap.IsSnapshot);
        Assert.Equal(16 * 1024, snap.ChunkSizeBytes);

        await lab.OnAsync("node1", "sh", "-c", "printf BBBB | dd of=/dev/vgt/orig conv=notrunc,fsync status=none");
        var status = Assert.IsType<SnapshotStatus>(Assert.Single(await dm.StatusAsync(Lv("orig-snap").DmName)).Status);
        Assert.True(status.AllocatedSectors > 0);
        Assert.Contains(await dm.StatusAsync(), s => s.Device == Lv("orig-snap").DmName);

        await d.MergeSnapshotAsync(Lv("orig-snap"), lab.Permit);
        Assert.Equal("AAAA", await lab.OnAsync("node1", "sh", "-c", "dd if=/dev/vgt/orig bs=512 count=1 iflag=direct status=none | head -c 4"));
        await Assert.ThrowsAsync<LvmNotFoundException>(() => d.GetLvAsync(Lv("orig-snap")));
        await d.RemoveLvAsync(Lv("orig"), lab.Permit);
    }

    [Fact]
    public async Task DmLoadErrorTableAndBack_IoFailsThenWorks()
    {
        var d = lab.Driver();
        var dm = lab.Dm();
        var lv = Lv("fence");
        await d.CreateLvAsync(new CreateLvRequest(lv, 4 * MiB), lab.Permit);
        var info = await dm.InfoAsync(lv.DmName);
        Assert.NotNull(info);
        Assert.Contains(await dm.ListAsync(), x => x.Name == lv.DmName);
        Assert.Contains(await dm.TableAsync(), x => x.Device == lv.DmName);
        var original = await dm.TableAsync(lv.DmName);

        // What fencing does: an error table, so nothing more reaches the disk.
        await dm.LoadAsync(lv.DmName, [new DmTableLine(lv.DmName, 0, original.Sum(l => l.LengthSectors), new ErrorTarget())]);
        await dm.SuspendAsync(lv.DmName);
        Assert.True((await dm.InfoAsync(lv.DmName))!.Suspended);
        await dm.ResumeAsync(lv.DmName);
        Assert.IsType<ErrorTarget>(Assert.Single(await dm.TableAsync(lv.DmName)).Target);
        var write = await lab.Lab.ExecAsync("node1", ["dd", "if=/dev/zero", $"of={lv.DevicePath}", "bs=4096", "count=1", "oflag=direct", "status=none"]);
        Assert.NotEqual(0, write.ExitCode);

        await dm.LoadAsync(lv.DmName, original);
        await dm.ResumeAsync(lv.DmName);
        Assert.Equal(original, await dm.TableAsync(lv.DmName));
        await lab.OnAsync("node1", "dd", "if=/dev/zero", $"of={lv.DevicePath}", "bs=4096", "count=1", "oflag=direct", "status=none");

        await d.DeactivateAsync(lv);
        Assert.Null(await dm.InfoAsync(lv.DmName));
        await d.RemoveLvAsync(lv, lab.Permit);
    }

    [Fact]
    public async Task DmWipeTable_OneCommandFences_SameLength_WritesFail()
    {
        var d = lab.Driver();
        var dm = lab.Dm();
        var lv = Lv("wipe");
        await d.CreateLvAsync(new CreateLvRequest(lv, 4 * MiB), lab.Permit);
        await dm.WipeTableAsync(lv.DmName);
        var line = Assert.Single(await dm.TableAsync(lv.DmName));
        Assert.IsType<ErrorTarget>(line.Target);
        Assert.Equal(4 * MiB / 512, line.LengthSectors);
        var write = await lab.Lab.ExecAsync("node1", ["dd", "if=/dev/zero", $"of={lv.DevicePath}", "bs=4096", "count=1", "oflag=direct", "status=none"]);
        Assert.NotEqual(0, write.ExitCode);
        await Assert.ThrowsAsync<LvmNotFoundException>(() => dm.WipeTableAsync("vgt-nothing"));
        await d.DeactivateAsync(lv);
        await d.RemoveLvAsync(lv, lab.Permit);
    }

    [Fact]
    public async Task DmRemove_DeviceWhoseLvWasRemovedElsewhere_Gone()
    {
        var n1 = lab.Driver("node1");
        var dm1 = lab.Dm("node1");
        var lv = Lv("stale");
        await n1.CreateLvAsync(new CreateLvRequest(lv, 4 * MiB, Activate: false), lab.Permit);
        await n1.ActivateAsync(lv);
        await lab.Driver("node2").RemoveLvAsync(lv, lab.Permit);
        Assert.NotNull(await dm1.InfoAsync(lv.DmName)); // node1 still maps space LVM calls free
        await dm1.RemoveAsync(lv.DmName);
        Assert.Null(await dm1.InfoAsync(lv.DmName));
    }
}
