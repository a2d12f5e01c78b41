using VgMesh.Lvm.Commands;
using VgMesh.Lvm.DeviceMapper;

namespace VgMesh.Lvm.Tests.DeviceMapper;

/// <summary>Existence from sysfs, laid out as the kernel does (block/dm-N/dm/name), in a temporary tree.</summary>
public sealed class DmSetupSysfsTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("vgmesh-sys").FullName;
    private readonly CountingRunner _runner = new();

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task Exists_ReadsSysfs_WithoutAProcess()
    {
        Directory.CreateDirectory(Path.Combine(_root, "class", "misc", "device-mapper"));
        Device("dm-0", "san-vm1");
        Device("dm-3", "san-a--b");
        Directory.CreateDirectory(Path.Combine(_root, "block", "sda"));
        var dm = new DmSetup(_runner, _root);

        Assert.True(await dm.ExistsAsync("san-vm1"));
        Assert.True(await dm.ExistsAsync("san-a--b"));
        Assert.False(await dm.ExistsAsync("san-vm2"));
        Assert.Equal(["san-a--b", "san-vm1"], dm.SysfsNames()!.Order(StringComparer.Ordinal));
        Assert.Equal(0, _runner.Runs);
    }

    [Fact]
    public async Task Sizes_ReadSysfs_WithoutAProcess()
    {
        Directory.CreateDirectory(Path.Combine(_root, "class", "misc", "device-mapper"));
        Device("dm-0", "san-vm1");
        Device("dm-1", "san-vm2");
        File.WriteAllText(Path.Combine(_root, "block", "dm-0", "size"), "131072\n");
        File.WriteAllText(Path.Combine(_root, "block", "dm-1", "size"), "8192\n");

        var sizes = await new DmSetup(_runner, _root).SizesAsync();

        Assert.Equal(new Dictionary<string, long> { ["san-vm1"] = 131072, ["san-vm2"] = 8192 }, sizes);
        Assert.Equal(0, _runner.Runs);
    }

    [Fact]
    public void TopLvUuids_TheVgsTopDevicesOnly_LayersAndOtherVgsLeftOut()
    {
        Directory.CreateDirectory(Path.Combine(_root, "class", "misc", "device-mapper"));
        var vg = new string('v', 32);
        var (lv1, lv2) = (new string('1', 32), new string('2', 32));
        Device("dm-0", "san-origin-real", $"LVM-{vg}{lv1}-real", "sda");
        Device("dm-1", "san-origin", $"LVM-{vg}{lv1}", "dm-0");
        Device("dm-2", "san-snap-cow", $"LVM-{vg}{lv2}-cow", "sda");
        Device("dm-3", "other-lv", $"LVM-{new string('o', 32)}{lv2}", "sda");
        Device("dm-4", "mpatha", "mpath-3600a0b80", "sdb");
        Device("dm-5", "no-uuid");
        Device("dm-6", "san-loading", $"LVM-{vg}{new string('3', 32)}", "sda");
        Device("dm-7", "san-suspended", $"LVM-{vg}{new string('4', 32)}", "sda");
        foreach (var (node, size, suspended) in new[] { ("dm-1", "32768", "0"), ("dm-6", "0", "0"), ("dm-7", "32768", "1") })
        {
            File.WriteAllText(Path.Combine(_root, "block", node, "size"), size + "\n");
            File.WriteAllText(Path.Combine(_root, "block", node, "dm", "suspended"), suspended + "\n");
        }

        var dm = new DmSetup(_runner, _root);

        // The VG's uuid as LVM prints it, with dashes. Devices without a live table yet do not count.
        Assert.Equal([lv1], dm.SysfsTopLvUuids("vvvvvv-vvvv-vvvv-vvvv-vvvv-vvvv-vvvvvv")!);
        Assert.Equal(0, _runner.Runs);
    }

    [Fact]
    public void TopLvUuids_WithoutDeviceMapperInSysfs_Null()
    {
        Directory.CreateDirectory(Path.Combine(_root, "block"));
        Assert.Null(new DmSetup(_runner, _root).SysfsTopLvUuids("vg"));
    }

    [Fact]
    public async Task Exists_WithoutDeviceMapperInSysfs_AsksDmsetup()
    {
        Directory.CreateDirectory(Path.Combine(_root, "block"));
        var dm = new DmSetup(_runner, _root);

        Assert.Null(dm.SysfsNames());
        Assert.False(await dm.ExistsAsync("san-vm1"));
        Assert.Equal(1, _runner.Runs);
    }

    [Fact]
    public async Task Exists_HostileName_RefusedBeforeAnything()
    {
        var dm = new DmSetup(_runner, _root);
        await Assert.ThrowsAsync<InvalidLvmNameException>(() => dm.ExistsAsync("../dm-0"));
        Assert.Equal(0, _runner.Runs);
    }

    [Fact]
    public void PhysicalDevicesOnly_APlainLv_NotOneWithAnLvUnderIt_AMultipathPvCountsAsPhysical()
    {
        Directory.CreateDirectory(Path.Combine(_root, "class", "misc", "device-mapper"));
        Device("dm-0", "mpatha", "mpath-3600a0b80", "sdb", "sdc");
        Device("dm-1", "san-plain", "LVM-aaaa", "sda");
        Device("dm-2", "san-onmultipath", "LVM-bbbb", "dm-0");
        Device("dm-3", "san-origin-real", "LVM-cccc-real", "sda");
        Device("dm-4", "san-origin", "LVM-cccc", "dm-3");
        Device("dm-5", "san-nothing-under");
        Device("dm-6", "san-fenced", "LVM-dddd"); // an error table: no slaves
        var dm = new DmSetup(_runner, _root);

        Assert.True(dm.MapsPhysicalDevicesOnly("san-plain"));
        Assert.True(dm.MapsPhysicalDevicesOnly("san-onmultipath"));
        Assert.False(dm.MapsPhysicalDevicesOnly("san-origin"));
        Assert.Null(dm.MapsPhysicalDevicesOnly("san-nothing-under")); // no slaves directory: cannot tell
        Assert.Null(dm.MapsPhysicalDevicesOnly("san-fenced"));
        Assert.Null(dm.MapsPhysicalDevicesOnly("san-absent"));
        Assert.Throws<InvalidLvmNameException>(() => dm.MapsPhysicalDevicesOnly("../dm-1"));
        Assert.Equal(0, _runner.Runs);
    }

    [Fact]
    public void PhysicalDevicesOnly_WithoutDeviceMapperInSysfs_CannotTell()
    {
        Directory.CreateDirectory(Path.Combine(_root, "block"));
        Assert.Null(new DmSetup(_runner, _root).MapsPhysicalDevicesOnly("san-plain"));
    }

    [Fact]
    public async Task Remove_WithoutUdev_TheNodeLeftInDevMapperGoes_OthersStay()
    {
        Directory.CreateDirectory(Path.Combine(_root, "class", "misc", "device-mapper"));
        Device("dm-1", "san-kept", "LVM-aaaa", "sda");
        var mapper = Directory.CreateDirectory(Path.Combine(_root, "dev", "mapper")).FullName;
        File.WriteAllText(Path.Combine(mapper, "san-gone"), "");
        File.WriteAllText(Path.Combine(mapper, "san-kept"), "");
        _runner.Succeeds = true;
        var dm = new DmSetup(_runner, _root, Path.Combine(_root, "dev"));

        await dm.RemoveAsync("san-gone"); // the kernel no longer lists it
        await dm.RemoveAsync("san-kept"); // still listed (udev or a re-activation got there first)

        Assert.False(File.Exists(Path.Combine(mapper, "san-gone")));
        Assert.True(File.Exists(Path.Combine(mapper, "san-kept")));
        Assert.Equal(2, _runner.Runs);
    }

    /// <summary>A dm-N directory with its name, and (when a uuid is given) its uuid and slaves.</summary>
    [Fact]
    public void SnapshotsOf_TheHoldersOfTheOriginsRealLayer_NotTheOriginItself()
    {
        Directory.CreateDirectory(Path.Combine(_root, "class", "misc", "device-mapper"));
        Device("dm-0", "san-tx3-real");
        Device("dm-1", "san-tx3");
        Device("dm-2", "san-tx3s-cow");
        Device("dm-3", "san-tx3s");
        Device("dm-4", "san-other");
        foreach (var holder in new[] { "dm-1", "dm-3" })
        {
            Directory.CreateDirectory(Path.Combine(_root, "block", "dm-0", "holders", holder));
        }

        Directory.CreateDirectory(Path.Combine(_root, "block", "dm-2", "holders", "dm-3"));
        var dm = new DmSetup(_runner, _root);

        Assert.Equal(["san-tx3s"], dm.SysfsSnapshotsOf("san-tx3"));
        Assert.Empty(dm.SysfsSnapshotsOf("san-other")!); // no -real layer: no snapshots
        Assert.Empty(dm.SysfsSnapshotsOf("san-gone")!);
        Assert.Equal(0, _runner.Runs);
    }

    private void Device(string node, string name, string? uuid = null, params string[] slaves)
    {
        var dir = Path.Combine(_root, "block", node);
        Directory.CreateDirectory(Path.Combine(dir, "dm"));
        File.WriteAllText(Path.Combine(dir, "dm", "name"), name + "\n");
        if (uuid is null)
        {
            return;
        }

        File.WriteAllText(Path.Combine(dir, "dm", "uuid"), uuid + "\n");
        Directory.CreateDirectory(Path.Combine(dir, "slaves"));
        foreach (var slave in slaves)
        {
            Directory.CreateDirectory(Path.Combine(dir, "slaves", slave));
        }
    }

    /// <summary>Answers every dmsetup as "no such device" (or as done), counting the processes it would have started.</summary>
    private sealed class CountingRunner : ILvmRunner
    {
        public int Runs { get; private set; }

        public bool Succeeds { get; set; }

        public Task<ProcessResult> RunAsync(LvmCommand command, CancellationToken cancellationToken)
        {
            Runs++;
            return Task.FromResult(Succeeds ? new ProcessResult(["dmsetup", .. command.Args], 0, "", "", TimeSpan.Zero)
                : new ProcessResult(["dmsetup", .. command.Args], 1, "", "Device does not exist.\n", TimeSpan.Zero));
        }
    }
}
