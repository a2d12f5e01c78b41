using Microsoft.Extensions.Logging.Abstractions;
using VgMesh.Agent.Reconciling;
using VgMesh.Agent.Telemetry;
using VgMesh.Lvm;
using VgMesh.Lvm.Commands;
using VgMesh.Lvm.DeviceMapper;

namespace VgMesh.Agent.Tests.Reconciling;

public sealed class ExecutorTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vgmesh-exec-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Answers every command with one exit code and stderr, as LVM would.</summary>
    private sealed class AnsweringRunner(int exitCode, string stderr) : ILvmRunner
    {
        public List<string> Ran { get; } = [];

        public Task<ProcessResult> RunAsync(LvmCommand command, CancellationToken cancellationToken)
        {
            Ran.Add(string.Join(' ', command.Args));
            return Task.FromResult(new ProcessResult([.. command.Args], exitCode, "", stderr, TimeSpan.Zero));
        }
    }

    private Executor ExecutorOver(ILvmRunner runner, out AgentMetrics metrics)
    {
        var options = new AgentOptions { VolumeGroup = "san", StateDir = _dir };
        var fenced = new FencedSet(options);
        metrics = new AgentMetrics(fenced);
        var lvm = new LvmDriver(runner);
        var dm = new DmSetup(runner, _dir, _dir);
        // The guard, the activator and the deactivator are not reached by what these tests do.
        return new Executor(lvm, dm, activator: null!, deactivator: null!, fenced, guard: null!, metrics, options, NullLogger<Executor>.Instance);
    }

    [Fact]
    public async Task Refresh_OfAnLvRemovedMeanwhile_IsNoAlert()
    {
        var runner = new AnsweringRunner(5, "  Failed to find logical volume \"san/ar4\"\n");
        var executor = ExecutorOver(runner, out var metrics);
        using (metrics)
        {
            var done = await executor.ExecuteAsync([new Refresh("ar4")], CancellationToken.None);
            Assert.Empty(done.Alerts);
            Assert.Empty(done.Acted); // nothing left to refresh: not counted as done
        }

        Assert.Contains(runner.Ran, r => r.Contains("--refresh", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Refresh_ThatFailsOtherwise_IsAnAlert()
    {
        var executor = ExecutorOver(new AnsweringRunner(5, "  device-mapper: reload ioctl on (253:3) failed: Invalid argument\n"), out var metrics);
        using (metrics)
        {
            var done = await executor.ExecuteAsync([new Refresh("ar4")], CancellationToken.None);
            var alert = Assert.Single(done.Alerts);
            Assert.StartsWith("failed: Refresh ar4", alert, StringComparison.Ordinal);
            Assert.Empty(done.Acted);
        }
    }

    [Fact]
    public async Task Activate_OfAnLvFencedHere_WhoseDeviceIsThere_IsRefused_AndStaysFenced()
    {
        // An activation would leave the error table (LVM sees the LV active) and, before
        // 2026-12-06, the record could outlive the device; only an unfence reloads it.
        Directory.CreateDirectory(Path.Combine(_dir, "class", "misc", "device-mapper"));
        Directory.CreateDirectory(Path.Combine(_dir, "block", "dm-0", "dm"));
        File.WriteAllText(Path.Combine(_dir, "block", "dm-0", "dm", "name"), "san-tx1\n");
        var runner = new AnsweringRunner(0, "");
        var executor = ExecutorOver(runner, out var metrics);
        new FencedSet(new AgentOptions { VolumeGroup = "san", StateDir = _dir }).Add("tx1");
        using (metrics)
        {
            var done = await executor.ExecuteAsync([new Activate("tx1", Exclusive: true)], CancellationToken.None);
            Assert.StartsWith("fenced: not activating tx1", Assert.Single(done.Alerts), StringComparison.Ordinal);
            Assert.Empty(done.Acted);
        }

        Assert.Empty(runner.Ran);
        Assert.Contains("tx1", new FencedSet(new AgentOptions { VolumeGroup = "san", StateDir = _dir }).Current);
    }
}
