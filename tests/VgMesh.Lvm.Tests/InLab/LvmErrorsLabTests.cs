using VgMesh.Lvm.DeviceMapper;

namespace VgMesh.Lvm.Tests.InLab;

/// <summary>Every typed error, produced by a real failing command in a lab host.</summary>
[Collection("lvm-lab")]
public class LvmErrorsLabTests(LvmLabFixture lab)
{
    private const long MiB = 1024 * 1024;
    private static LvRef Lv(string name) => new(LvmLabFixture.Vg, name);

    [Fact]
    public async Task NotFound_LvVgAndDevice()
    {
        var d = lab.Driver();
        Assert.Equal("vgt/nope", (await Assert.ThrowsAsync<LvmNotFoundException>(() => d.GetLvAsync(Lv("nope")))).ObjectName);
        await Assert.ThrowsAsync<LvmNotFoundException>(() => d.GetVgAsync("novg"));
        await Assert.ThrowsAsync<LvmNotFoundException>(() => d.RemoveLvAsync(Lv("nope"), lab.Permit));
        await Assert.ThrowsAsync<LvmNotFoundException>(() => d.CreateSnapshotAsync(Lv("nope"), "s-of-nope", 4 * MiB, null, null, lab.Permit));
        await Assert.ThrowsAsync<LvmNotFoundException>(() => lab.Dm().RemoveAsync("vgt-nope"));
    }

    [Fact]
    public async Task AlreadyExists_SecondCreate()
    {
        var d = lab.Driver();
        await d.CreateLvAsync(new CreateLvRequest(Lv("twice"), 4 * MiB), lab.Permit);
        await Assert.ThrowsAsync<LvmAlreadyExistsException>(() => d.CreateLvAsync(new CreateLvRequest(Lv("twice"), 4 * MiB), lab.Permit));
        await d.RemoveLvAsync(Lv("twice"), lab.Permit);
    }

    [Fact]
    public async Task InsufficientSpace_CreateAndExtend()
    {
        var d = lab.Driver();
        var e = await Assert.ThrowsAsync<LvmInsufficientSpaceException>(() => d.CreateLvAsync(new CreateLvRequest(Lv("huge"), 100L * 1024 * MiB), lab.Permit));
        Assert.Equal(25600, e.NeededExtents);
        await d.CreateLvAsync(new CreateLvRequest(Lv("small"), 4 * MiB), lab.Permit);
        await Assert.ThrowsAsync<LvmInsufficientSpaceException>(() => d.ExtendLvAsync(Lv("small"), 100L * 1024 * MiB, lab.Permit));
        await d.RemoveLvAsync(Lv("small"), lab.Permit);
    }

    [Fact]
    public async Task InUse_RemoveAndDeactivateWhileHeldOpen()
    {
        var d = lab.Driver();
        var dm = lab.Dm();
        var lv = Lv("held");
        await d.CreateLvAsync(new CreateLvRequest(lv, 4 * MiB), lab.Permit);
        // A device stacked on top holds it open, as a VM's disk would.
        await lab.OnAsync("node1", "dmsetup", "create", "holder", "--table", $"0 8 linear /dev/mapper/{lv.DmName} 0");
        Assert.Equal(1, (await dm.InfoAsync(lv.DmName))!.OpenCount);
        await Assert.ThrowsAsync<LvmInUseException>(() => d.RemoveLvAsync(lv, lab.Permit));
        await Assert.ThrowsAsync<LvmInUseException>(() => d.DeactivateAsync(lv));
        await Assert.ThrowsAsync<LvmInUseException>(() => dm.RemoveAsync(lv.DmName));
        await dm.RemoveAsync("holder");
        await d.RemoveLvAsync(lv, lab.Permit);
    }

    [Fact]
    public async Task MetadataLocked_VgLockHeldOnTheHost()
    {
        var d = new LvmDriver(lab.Runner("node1", o => o with { WaitForLocks = false }));
        await lab.OnAsync("node1", "sh", "-c", "flock /run/lock/lvm/V_vgt sleep 4 </dev/null >/dev/null 2>&1 & sleep 0.5");
        var e = await Assert.ThrowsAsync<LvmMetadataLockedException>(() => d.CreateLvAsync(new CreateLvRequest(Lv("locked"), 4 * MiB), lab.Permit));
        Assert.Contains("Can't get lock for vgt", e.Message, StringComparison.Ordinal);
        await Task.Delay(TimeSpan.FromSeconds(4));
    }

    [Fact]
    public async Task SnapshotInvalid_MergeOfOverflowedSnapshot()
    {
        var d = lab.Driver();
        await d.CreateLvAsync(new CreateLvRequest(Lv("busy"), 16 * MiB), lab.Permit);
        await d.CreateSnapshotAsync(Lv("busy"), "busy-snap", 4 * MiB, null, null, lab.Permit);
        await lab.OnAsync("node1", "dd", "if=/dev/zero", "of=/dev/vgt/busy", "bs=1M", "count=12", "oflag=direct", "status=none");
        var status = Assert.IsType<SnapshotStatus>(Assert.Single(await lab.Dm().StatusAsync("vgt-busy--snap")).Status);
        Assert.Equal(SnapshotHealth.Invalid, status.Health);
        await Assert.ThrowsAsync<LvmSnapshotInvalidException>(() => d.MergeSnapshotAsync(Lv("busy-snap"), lab.Permit));
        await d.RemoveLvAsync(Lv("busy-snap"), lab.Permit);
        await d.RemoveLvAsync(Lv("busy"), lab.Permit);
    }

    [Fact]
    public async Task Timeout_SlowCommandKilled()
    {
        // The command sleeps 20 s in the host before it runs: a vgs alone can end before a 30 ms
        // timer gets a thread on a loaded machine (seen once: it finished in 0.9 s, unkilled).
        var d = new LvmDriver(lab.Runner("node1", o => o with
        {
            Timeout = TimeSpan.FromMilliseconds(500),
            CommandPrefix = [.. o.CommandPrefix, "sh", "-c", "sleep 20; exec \"$@\"", "sh"],
        }));
        await Assert.ThrowsAsync<LvmTimeoutException>(() => d.ListVgsAsync());
    }

    [Fact]
    public async Task SizeRefused_ReduceToALargerSize_ExtendToTheSameSize()
    {
        var d = lab.Driver();
        await d.CreateLvAsync(new CreateLvRequest(Lv("notsmaller"), 8 * MiB), lab.Permit);
        var larger = await Assert.ThrowsAsync<LvmSizeRefusedException>(() => d.ReduceLvAsync(Lv("notsmaller"), 64 * MiB, lab.Permit));
        Assert.False(larger.Unchanged);
        Assert.Equal(5, larger.Result!.ExitCode);
        Assert.Contains("not less than existing size", larger.Result.Stderr, StringComparison.Ordinal);

        // Whole extents (4 MiB here): an extend to the current size changes nothing; to less is refused.
        Assert.True((await Assert.ThrowsAsync<LvmSizeRefusedException>(() => d.ExtendLvAsync(Lv("notsmaller"), 8 * MiB, lab.Permit))).Unchanged);
        Assert.False((await Assert.ThrowsAsync<LvmSizeRefusedException>(() => d.ExtendLvAsync(Lv("notsmaller"), 4 * MiB, lab.Permit))).Unchanged);
        Assert.NotNull(await d.ExtendLvByAsync(Lv("notsmaller"), 4 * MiB, lab.Permit));
        Assert.Equal(12 * MiB, (await d.GetLvAsync(Lv("notsmaller"))).SizeBytes);
        await d.RemoveLvAsync(Lv("notsmaller"), lab.Permit);
    }

    [Fact]
    public async Task WriteNotPermitted_NoPermit_NothingRuns()
    {
        var runner = lab.Runner("node1");
        await Assert.ThrowsAsync<LvmWriteNotPermittedException>(() => runner.RunAsync(
            new VgMesh.Lvm.Commands.LvmCommand(VgMesh.Lvm.Commands.LvmTool.Lvm, ["lvcreate", "-n", "nopermit", "-L", "4m", "vgt"], "vgt/nopermit", WritesMetadata: true), CancellationToken.None));
        await Assert.ThrowsAsync<LvmNotFoundException>(() => lab.Driver().GetLvAsync(Lv("nopermit")));
    }

    [Fact]
    public async Task InvalidName_RefusedBeforeAnyProcess()
    {
        var d = new LvmDriver(lab.Runner("node1", o => o with { LvmBinary = "/nonexistent" }));
        await Assert.ThrowsAsync<InvalidLvmNameException>(() => d.RenameLvAsync(Lv("a"), "@all", lab.Permit));
        await Assert.ThrowsAsync<InvalidLvmNameException>(() => d.GetVgAsync("-n"));
        await Assert.ThrowsAsync<InvalidLvmNameException>(() => d.AddTagAsync(Lv("a"), "bad tag", lab.Permit));
        await Assert.ThrowsAsync<InvalidLvmNameException>(() => d.CreateSnapshotAsync(Lv("a"), "snapshotX", 4 * MiB, null, null, lab.Permit));
    }
}
