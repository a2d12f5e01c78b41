namespace VgMesh.Lab.Tests;

/// <summary>
/// The lab's disk behaves as a SAN LUN, and the problem vgmesh exists for is real: asserted on
/// real LVM and device-mapper outputs of three hosts.
/// </summary>
[Collection("three-host-lab")]
public class SharedDiskTests(ThreeHostLabFixture f)
{
    [Fact]
    public async Task RawWrite_OnOneHost_ReadByEveryOther()
    {
        // The last MiB of the LUN, which no VG here uses.
        const string seek = "1023";
        var pattern = $"lab-{Guid.NewGuid():N}";
        await f.OnAsync("node1", "sh", "-c", $"printf '%-512s' {pattern} | dd of=/dev/ubda bs=512 seek={seek}x2048 count=1 oflag=direct conv=notrunc status=none".Replace($"{seek}x2048", (1023 * 2048).ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal));
        foreach (var host in new[] { "node2", "node3" })
        {
            var read = await f.OnAsync(host, "sh", "-c", $"dd if=/dev/ubda bs=512 skip={1023 * 2048} count=1 iflag=direct status=none");
            Assert.Equal(pattern, read.Trim());
        }
    }

    [Fact]
    public async Task PeerKeepsStaleTableAfterExtend_UntilRefresh_AndStaleDeviceAfterRemove_UntilDmsetupRemove()
    {
        await f.OnAsync("node1", "lvm", "pvcreate", "-q", "/dev/ubda");
        await f.OnAsync("node1", "lvm", "vgcreate", "-q", "shared", "/dev/ubda");
        await f.OnAsync("node1", "lvm", "lvcreate", "-q", "-y", "-an", "-Zn", "-n", "vm1", "-L", "64M", "shared");
        Assert.Contains("vm1", await f.OnAsync("node3", "lvm", "lvs", "--noheadings", "-o", "lv_name", "shared"), StringComparison.Ordinal);

        // node2 activates; node1 extends.
        await f.OnAsync("node2", "lvm", "lvchange", "-ay", "shared/vm1");
        await f.OnAsync("node1", "lvm", "lvextend", "-q", "-L", "96M", "shared/vm1");

        // node2's kernel keeps 64 MiB (131072 sectors) and LVM there reports the mismatch.
        Assert.Equal("0 131072 linear 98:0 2048", (await f.OnAsync("node2", "dmsetup", "table", "shared-vm1")).Trim());
        var lvs = await f.Lab.ExecAsync("node2", ["lvm", "lvs", "--noheadings", "-o", "lv_attr,lv_size", "--units", "m", "shared/vm1"]);
        Assert.Contains("-wi-XX--X-", lvs.Stdout, StringComparison.Ordinal);
        Assert.Contains("96.00m", lvs.Stdout, StringComparison.Ordinal);
        Assert.Contains("Cannot find matching striped segment for shared/vm1", lvs.Stderr, StringComparison.Ordinal);

        await f.OnAsync("node2", "lvm", "lvchange", "--refresh", "shared/vm1");
        Assert.Equal(196608, (await f.OnAsync("node2", "dmsetup", "table", "shared-vm1")).Split('\n', StringSplitOptions.RemoveEmptyEntries).Sum(l => long.Parse(l.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture)));
        var after = await f.Lab.ExecAsync("node2", ["lvm", "lvs", "--noheadings", "-o", "lv_attr", "shared/vm1"]);
        Assert.Equal("-wi-a-----", after.Stdout.Trim());
        Assert.DoesNotContain("Cannot find matching", after.Stderr, StringComparison.Ordinal);
        await f.OnAsync("node2", "lvm", "lvchange", "-an", "shared/vm1");

        // node1 has "vm2" active; node2 removes it. node1's device stays live and writable.
        await f.OnAsync("node1", "lvm", "lvcreate", "-q", "-y", "-n", "vm2", "-L", "16M", "shared");
        await f.OnAsync("node2", "lvm", "lvremove", "-q", "-y", "shared/vm2");
        Assert.DoesNotContain("vm2", await f.OnAsync("node1", "lvm", "lvs", "--noheadings", "-o", "lv_name", "shared"), StringComparison.Ordinal);
        Assert.StartsWith("shared-vm2", await f.OnAsync("node1", "dmsetup", "info", "-c", "--noheadings", "shared-vm2"), StringComparison.Ordinal);
        await f.OnAsync("node1", "dd", "if=/dev/zero", "of=/dev/mapper/shared-vm2", "bs=4096", "count=1", "oflag=direct", "status=none");
        await f.OnAsync("node1", "dmsetup", "remove", "shared-vm2");
        var gone = await f.Lab.ExecAsync("node1", ["dmsetup", "info", "shared-vm2"]);
        Assert.NotEqual(0, gone.ExitCode);
        Assert.Contains("Device does not exist", gone.Stderr, StringComparison.Ordinal);

        // crash, then boot: the host comes back and sees the VG again.
        await f.Lab.FaultAsync(LabFault.Crash, "node3");
        Assert.Contains("down", await f.Lab.StatusAsync(), StringComparison.Ordinal);
        await f.Lab.FaultAsync(LabFault.Boot, "node3");
        Assert.Contains("vm1", await f.OnAsync("node3", "lvm", "lvs", "--noheadings", "-o", "lv_name", "shared"), StringComparison.Ordinal);
    }
}
