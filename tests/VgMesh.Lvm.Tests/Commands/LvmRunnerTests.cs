using Microsoft.Extensions.Logging.Abstractions;
using VgMesh.Lvm.Commands;

namespace VgMesh.Lvm.Tests.Commands;

public class LvmRunnerTests
{
    private static LvmRunner Runner(LvmRunnerOptions? o = null) =>
        new(o ?? new LvmRunnerOptions(), NullLogger<LvmRunner>.Instance, TimeProvider.System);

    [Fact]
    public void BuildArgv_Read_GetsMetadataReadOnly()
    {
        var argv = Runner().BuildArgv(new LvmCommand(LvmTool.Lvm, ["lvs", "--", "vg0"], "vg0"));
        Assert.Equal(["lvm", "lvs", "--config", "global/metadata_read_only=1", "--", "vg0"], argv);
    }

    [Fact]
    public void BuildArgv_NoWaitForLocks_OneConfigArgument()
    {
        var argv = Runner(new LvmRunnerOptions { WaitForLocks = false }).BuildArgv(new LvmCommand(LvmTool.Lvm, ["lvs"], "vg0"));
        Assert.Equal(["lvm", "lvs", "--config", "global/metadata_read_only=1 global/wait_for_locks=0"], argv);
    }

    [Fact]
    public void BuildArgv_Write_NoReadOnlyConfig()
    {
        var argv = Runner().BuildArgv(new LvmCommand(LvmTool.Lvm, ["lvremove", "--yes", "--", "vg0/a"], "vg0/a", WritesMetadata: true));
        Assert.DoesNotContain("global/metadata_read_only=1", argv);
    }

    [Fact]
    public void BuildArgv_Prefix_CarriesEnvironmentThroughEnv()
    {
        var o = new LvmRunnerOptions { CommandPrefix = ["chroot", "/host"], LvmSystemDir = "/etc/vgmesh/lvm" };
        var argv = Runner(o).BuildArgv(new LvmCommand(LvmTool.Dmsetup, ["table"], "x"));
        Assert.Equal(["chroot", "/host", "env", "LC_ALL=C", "LVM_SUPPRESS_FD_WARNINGS=1", "LVM_SYSTEM_DIR=/etc/vgmesh/lvm", "dmsetup", "table"], argv);
    }

    [Fact]
    public async Task RunAsync_WriteWithoutPermit_RefusedBeforeAnyProcess()
    {
        // A binary that does not exist proves no process was attempted: we get the permit error.
        var r = Runner(new LvmRunnerOptions { LvmBinary = "/nonexistent/lvm" });
        var e = await Assert.ThrowsAsync<LvmWriteNotPermittedException>(() =>
            r.RunAsync(new LvmCommand(LvmTool.Lvm, ["lvcreate", "-n", "x", "-L", "4m", "vg0"], "vg0/x", WritesMetadata: true), CancellationToken.None));
        Assert.Contains("coordinator", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("a\nb")]
    [InlineData("a\0b")]
    [InlineData("\u00e4")]
    [InlineData("a\u202eb")]
    [InlineData("\t")]
    public async Task RunAsync_ControlOrNonAsciiArgument_RefusedBeforeAnyProcess(string bad)
    {
        var r = Runner(new LvmRunnerOptions { LvmBinary = "/nonexistent/lvm" });
        var e = await Assert.ThrowsAsync<LvmUnsafeArgumentException>(() =>
            r.RunAsync(new LvmCommand(LvmTool.Lvm, ["lvs", "--select", "lv_name=ok", "vg0/" + bad], "vg0/x"), CancellationToken.None));
        Assert.Equal(("unsafe-argument", true), (e.Code, e.Message.Contains("argument 3", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task RunAsync_LapsedPermit_RefusedBeforeAnyProcess()
    {
        var r = Runner(new LvmRunnerOptions { LvmBinary = "/nonexistent/lvm" });
        var permit = new LapsedPermit();
        await Assert.ThrowsAsync<InvalidOperationException>(() =>
            r.RunAsync(new LvmCommand(LvmTool.Lvm, ["lvremove", "vg0/x"], "vg0/x", true, permit), CancellationToken.None));
    }

    [Fact]
    public async Task RunAsync_RealProcess_KeepsExitCodeStdoutStderrTogether()
    {
        var r = Runner(new LvmRunnerOptions { LvmBinary = "sh" });
        var result = await r.RunAsync(new LvmCommand(LvmTool.Lvm, ["-c", "echo out; echo err >&2; echo $LC_ALL; exit 3", "sh"], "x", true, MetadataWritePermit.SingleHost("t")), CancellationToken.None);
        Assert.Equal(3, result.ExitCode);
        Assert.Equal("out\nC\n", result.Stdout);
        Assert.Equal("err\n", result.Stderr);
        Assert.Equal("sh", result.Argv[0]);
    }

    [Fact]
    public async Task RunAsync_Stdin_Delivered()
    {
        var r = Runner(new LvmRunnerOptions { DmsetupBinary = "cat" });
        var result = await r.RunAsync(new LvmCommand(LvmTool.Dmsetup, [], "x", Stdin: "0 8 error\n"), CancellationToken.None);
        Assert.Equal("0 8 error\n", result.Stdout);
    }

    [Fact]
    public async Task RunAsync_PastTimeout_KilledAndTyped()
    {
        var r = Runner(new LvmRunnerOptions { DmsetupBinary = "sleep", Timeout = TimeSpan.FromMilliseconds(200) });
        var e = await Assert.ThrowsAsync<LvmTimeoutException>(() => r.RunAsync(new LvmCommand(LvmTool.Dmsetup, ["30"], "x"), CancellationToken.None));
        Assert.Equal(-1, e.Result!.ExitCode);
        Assert.Contains("may have taken effect", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_CallerCancels_KilledAndCancelled()
    {
        var r = Runner(new LvmRunnerOptions { DmsetupBinary = "sleep" });
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => r.RunAsync(new LvmCommand(LvmTool.Dmsetup, ["30"], "x"), cts.Token));
    }

    [Fact]
    public async Task Started_KnowsTheProcessesItRan_AndCannotTellBehindAPrefix()
    {
        var r = Runner(new LvmRunnerOptions { LvmBinary = "sh" });
        var result = await r.RunAsync(new LvmCommand(LvmTool.Lvm, ["-c", "echo $$", "sh"], "x", true, MetadataWritePermit.SingleHost("t")), CancellationToken.None);
        var pid = int.Parse(result.Stdout.Trim(), System.Globalization.CultureInfo.InvariantCulture);

        Assert.True(r.Started(pid));
        Assert.False(r.Started(Environment.ProcessId));
        Assert.Null(Runner(new LvmRunnerOptions { CommandPrefix = ["ssh", "host"] }).Started(pid));
    }

    [Fact]
    public void Options_Invalid_ClearMessage()
    {
        Assert.Contains("absolute", Assert.Throws<ArgumentException>(() => new LvmRunnerOptions { LvmSystemDir = "lvm" }.Validate()).Message, StringComparison.Ordinal);
        Assert.Contains("positive", Assert.Throws<ArgumentException>(() => new LvmRunnerOptions { Timeout = TimeSpan.Zero }.Validate()).Message, StringComparison.Ordinal);
        Assert.Contains("empty element", Assert.Throws<ArgumentException>(() => new LvmRunnerOptions { CommandPrefix = ["chroot", ""] }.Validate()).Message, StringComparison.Ordinal);
    }

    private sealed class LapsedPermit : MetadataWritePermit
    {
        public override string Holder => "node1";

        public override long FencingToken => 7;

        public override void EnsureValid() => throw new InvalidOperationException("leadership lost");
    }
}
