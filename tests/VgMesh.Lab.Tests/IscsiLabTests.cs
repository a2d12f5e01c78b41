using System.Globalization;
using System.Security.Cryptography;

namespace VgMesh.Lab.Tests;

/// <summary>A two-host lab whose LUN is an iSCSI target on two portals (<c>ops/lab up --iscsi</c>), up for the whole class.</summary>
public sealed class IscsiLabFixture : IAsyncLifetime
{
    public Lab Lab { get; } = new("iscsitest");

    public IReadOnlyDictionary<string, string> Env { get; private set; } = new Dictionary<string, string>();

    public async Task InitializeAsync()
    {
        await Lab.DownAsync();
        Env = await Lab.UpAsync(hosts: 2, diskSize: "512M", iscsi: true);
        await OnAsync("node1", "lvm", "pvcreate", "-q", "/dev/mapper/luna");
        await OnAsync("node1", "lvm", "vgcreate", "-q", "isc", "/dev/mapper/luna");
    }

    public Task DisposeAsync() => Lab.DownAsync();

    public Task<string> OnAsync(string host, params string[] command) => Lab.ExecOkAsync(host, command);

    /// <summary>The host's paths as multipathd sees them: device name to "dm-state checker-state".</summary>
    public async Task<Dictionary<string, string>> PathsAsync(string host) =>
        (await OnAsync(host, "multipathd", "show", "paths", "format", "%d %t %T")).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Skip(1)
            .Select(l => l.Split(' ', 2, StringSplitOptions.RemoveEmptyEntries))
            .Where(p => p.Length == 2)
            .ToDictionary(p => p[0], p => string.Join(' ', p[1].Split(' ', StringSplitOptions.RemoveEmptyEntries)));
}

/// <summary>
/// The LUN over real iSCSI and dm-multipath (tgtd, open-iscsi, multipath-tools), and the
/// target's own fence: SCSI-3 persistent reservations, asserted on what the hosts' kernels do.
/// </summary>
public class IscsiLabTests(IscsiLabFixture f) : IClassFixture<IscsiLabFixture>
{
    [Fact]
    public async Task EveryHost_SeesOneMultipathDevice_OverTwoActivePaths_AndTheSameVg()
    {
        foreach (var host in new[] { "node1", "node2" })
        {
            var paths = await f.PathsAsync(host);
            Assert.Equal(2, paths.Count);
            Assert.All(paths.Values, state => Assert.Equal("active ready", state));
            Assert.Contains("isc", await f.OnAsync(host, "lvm", "vgs", "--noheadings", "-o", "vg_name"), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task OnePathCut_UnderWrites_NoErrorReachesTheWriter_AndThePathComesBack()
    {
        await f.OnAsync("node1", "lvm", "lvcreate", "-q", "-y", "-an", "-Zn", "-n", "cut", "-L", "16M", "isc");
        await f.OnAsync("node2", "lvm", "lvchange", "-ay", "isc/cut");
        // What node2 writes, 16 MiB, one 64 KiB block per dd (O_DIRECT): kept in node2's directory.
        var data = new byte[16 << 20];
        new Random(1206).NextBytes(data);
        await File.WriteAllBytesAsync(Path.Combine(f.Env["VGMESH_LAB_NODE2_DIR"], "tmp", "cut.src"), data);
        var writer = f.Lab.ExecAsync("node2", ["sh", "-c",
            "i=0; while [ $i -lt 256 ]; do dd if=\"$TMPDIR/cut.src\" of=/dev/isc/cut bs=64k skip=$i seek=$i count=1 oflag=direct conv=notrunc status=none " +
            "|| { echo \"write $i failed\"; exit 1; }; i=$((i + 1)); done"]);

        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.False(writer.IsCompleted, "the writer ended before the path was cut; make it write more");
        await f.Lab.PathAsync("node2", 1, up: false);
        try
        {
            // The session on the cut portal times out (nop-outs), multipath fails that path and
            // sends its I/O down the other one.
            await UntilAsync(async () => (await f.PathsAsync("node2")).Values.Count(s => s.StartsWith("failed", StringComparison.Ordinal)) == 1, TimeSpan.FromSeconds(60), "node2's cut path never showed failed");
        }
        finally
        {
            await f.Lab.PathAsync("node2", 1, up: true);
        }

        var written = await writer;
        Assert.True(written.Succeeded, $"the writer saw an error through the path cut: {written.Stdout}{written.Stderr}");
        await UntilAsync(async () => (await f.PathsAsync("node2")).Values.All(s => s == "active ready"), TimeSpan.FromSeconds(60), "node2's path did not come back");

        // Every byte is on the LUN, as read by the other host.
        await f.OnAsync("node2", "lvm", "lvchange", "-an", "isc/cut");
        await f.OnAsync("node1", "lvm", "lvchange", "-ay", "isc/cut");
        var onLun = (await f.OnAsync("node1", "sh", "-c", "dd if=/dev/isc/cut bs=1M count=16 iflag=direct status=none | sha256sum")).Split(' ')[0];
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(data)), onLun);
        await f.OnAsync("node1", "lvm", "lvchange", "-an", "isc/cut");
    }

    [Fact]
    public async Task Reservation_APreemptedHost_CannotWrite_ButReads_UntilItRegistersAgain()
    {
        const string Key1 = "0x766d000000000001", Key2 = "0x766d000000000002";
        await f.OnAsync("node1", "lvm", "lvcreate", "-q", "-y", "-an", "-Zn", "-n", "pr", "-L", "8M", "isc");
        await f.OnAsync("node2", "lvm", "lvchange", "-ay", "isc/pr");
        string[] write = ["dd", "if=/dev/zero", "of=/dev/isc/pr", "bs=64k", "count=1", "oflag=direct", "conv=notrunc", "status=none"];
        string[] read = ["dd", "if=/dev/isc/pr", "of=/dev/null", "bs=64k", "count=1", "iflag=direct", "status=none"];
        try
        {
            // Each host registers its key on every path (mpathpersist); node1 takes the
            // reservation "write exclusive, registrants only".
            await f.OnAsync("node1", "mpathpersist", "--out", "--register", $"--param-sark={Key1}", "/dev/mapper/luna");
            await f.OnAsync("node2", "mpathpersist", "--out", "--register", $"--param-sark={Key2}", "/dev/mapper/luna");
            await f.OnAsync("node1", "mpathpersist", "--out", "--reserve", $"--param-rk={Key1}", "--prout-type=5", "/dev/mapper/luna");
            var keys = await f.OnAsync("node2", "mpathpersist", "--in", "--read-keys", "/dev/mapper/luna");
            Assert.Equal(2, CountOf(keys, Key1)); // one registration per path
            Assert.Equal(2, CountOf(keys, Key2));
            Assert.Contains("Write Exclusive, registrants only", await f.OnAsync("node2", "mpathpersist", "--in", "--read-reservation", "/dev/mapper/luna"), StringComparison.Ordinal);
            await f.OnAsync("node2", write);

            // node1 preempts node2's key (tgtd has PREEMPT, not PREEMPT AND ABORT): from then on
            // the target refuses node2's writes on every path, and lets it read.
            await f.OnAsync("node1", "mpathpersist", "--out", "--preempt", $"--param-rk={Key1}", $"--param-sark={Key2}", "--prout-type=5", "/dev/mapper/luna");
            Assert.Equal(0, CountOf(await f.OnAsync("node1", "mpathpersist", "--in", "--read-keys", "/dev/mapper/luna"), Key2));
            var refused = await f.Lab.ExecAsync("node2", write);
            Assert.NotEqual(0, refused.ExitCode);
            Assert.Contains("error writing", refused.Stderr, StringComparison.Ordinal);
            Assert.Contains("reservation conflict", await f.OnAsync("node2", "dmesg"), StringComparison.Ordinal);
            await f.OnAsync("node2", read);
            // A refusal is not a path failure: multipath keeps both paths.
            Assert.All((await f.PathsAsync("node2")).Values, state => Assert.Equal("active ready", state));

            await f.OnAsync("node2", "mpathpersist", "--out", "--register", $"--param-sark={Key2}", "/dev/mapper/luna");
            await f.OnAsync("node2", write);
        }
        finally
        {
            // The LUN free again for the other tests: no keys, no reservation.
            await f.Lab.ExecAsync("node1", ["mpathpersist", "--out", "--clear", $"--param-rk={Key1}", "/dev/mapper/luna"]);
            await f.Lab.ExecAsync("node2", ["lvm", "lvchange", "-an", "isc/pr"]);
        }

        Assert.Contains("0 registered reservation key", await f.OnAsync("node1", "mpathpersist", "--in", "--read-keys", "/dev/mapper/luna"), StringComparison.Ordinal);
        Assert.Contains("there is NO reservation held", await f.OnAsync("node1", "mpathpersist", "--in", "--read-reservation", "/dev/mapper/luna"), StringComparison.Ordinal);
    }

    private static int CountOf(string text, string key) =>
        text.Split('\n').Count(l => l.Trim().Equals(key, StringComparison.OrdinalIgnoreCase));

    private static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan limit, string failure)
    {
        var deadline = DateTime.UtcNow + limit;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"{failure} within {limit.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s");
            await Task.Delay(TimeSpan.FromMilliseconds(500));
        }
    }
}
