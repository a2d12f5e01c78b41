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

    private void Device(string node, string name)
    {
        Directory.CreateDirectory(Path.Combine(_root, "block", node, "dm"));
        File.WriteAllText(Path.Combine(_root, "block", node, "dm", "name"), name + "\n");
    }

    /// <summary>Answers every dmsetup as "no such device", counting the processes it would have started.</summary>
    private sealed class CountingRunner : ILvmRunner
    {
        public int Runs { get; private set; }

        public Task<ProcessResult> RunAsync(LvmCommand command, CancellationToken cancellationToken)
        {
            Runs++;
            return Task.FromResult(new ProcessResult(["dmsetup", .. command.Args], 1, "", "Device does not exist.\n", TimeSpan.Zero));
        }
    }
}
