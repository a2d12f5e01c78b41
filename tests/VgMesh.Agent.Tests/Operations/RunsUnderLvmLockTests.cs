using Microsoft.Extensions.Logging.Abstractions;
using VgMesh.Agent.Lockd;
using VgMesh.Agent.Operations;
using VgMesh.Agent.Reconciling;
using VgMesh.Agent.Telemetry;
using VgMesh.Client;
using VgMesh.Lvm;
using VgMesh.Lvm.Commands;
using VgMesh.Lvm.DeviceMapper;

namespace VgMesh.Agent.Tests.Operations;

/// <summary>
/// lvmlockd mode's operations on the host where they are asked (<see cref="IRunsUnderLvmLock"/>):
/// when they go to the coordinator's queue instead, what they refuse, and the command they run.
/// LVM is a scripted runner; device-mapper a sysfs tree in a temporary directory.
/// </summary>
public sealed class RunsUnderLvmLockTests : IDisposable
{
    private const string LvUuid = "5UtLqO-0GWn-PhrJ-bdfn-NJ3j-PIAb-3T6AbR";
    private static readonly LvRef Lk1 = new("san", "lk1");

    private readonly string _dir = Directory.CreateTempSubdirectory("vgmesh-lockd-ops-").FullName;
    private readonly AgentOptions _options;
    private readonly FencedSet _fenced;
    private readonly AgentMetrics _metrics;
    private readonly LockdState _lockd;
    private readonly ClaimCache _claims;
    private readonly LocalSteps _steps = new();
    private readonly HostActivity _activity = new();
    private readonly ScriptedRunner _runner = new();

    public RunsUnderLvmLockTests()
    {
        _options = new AgentOptions { Host = "node3", VolumeGroup = "san", StateDir = _dir };
        _fenced = new FencedSet(_options);
        _metrics = new AgentMetrics(_fenced);
        _lockd = new LockdState(_metrics);
        _claims = new ClaimCache(_options);
        Directory.CreateDirectory(Path.Combine(_dir, "sys", "class", "misc", "device-mapper"));
        Directory.CreateDirectory(Path.Combine(_dir, "sys", "block"));
    }

    public void Dispose()
    {
        _activity.Dispose();
        _metrics.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    /// <summary>Answers each command by the first rule whose key its arguments start with; anything else succeeds silently.</summary>
    private sealed class ScriptedRunner : ILvmRunner
    {
        public List<(LvmTool Tool, string Args)> Ran { get; } = [];

        public Dictionary<string, (int Exit, string Stdout, string Stderr)> Rules { get; } = new(StringComparer.Ordinal);

        public Task<ProcessResult> RunAsync(LvmCommand command, CancellationToken cancellationToken)
        {
            var args = string.Join(' ', command.Args);
            Ran.Add((command.Tool, args));
            var (exit, stdout, stderr) = Rules.FirstOrDefault(r => args.StartsWith(r.Key, StringComparison.Ordinal)).Value;
            return Task.FromResult(new ProcessResult([.. command.Args], exit, stdout ?? "", stderr ?? "", TimeSpan.Zero));
        }
    }

    /// <summary>The LV's device on this host, as sysfs shows it.</summary>
    private void ActiveHere()
    {
        var dm = Path.Combine(_dir, "sys", "block", "dm-0", "dm");
        Directory.CreateDirectory(dm);
        File.WriteAllText(Path.Combine(dm, "name"), "san-lk1\n");
        File.WriteAllText(Path.Combine(dm, "uuid"), "LVM-dnTGvrJrvd0A2iCdhpX7MOR3MaVSehdy" + LvUuid.Replace("-", "", StringComparison.Ordinal) + "\n");
    }

    private ExtendOperation Extend()
    {
        var lvm = new LvmDriver(_runner);
        var dm = new DmSetup(_runner, Path.Combine(_dir, "sys"), _dir);
        return new ExtendOperation(lvm, dm, new OnDiskMetadata(lvm, dm), _fenced, placement: null!, _steps, _lockd, Local(), _options, NullLogger<ExtendOperation>.Instance);
    }

    private RemoveOperation Remove() =>
        new(new LvmDriver(_runner), new DmSetup(_runner, Path.Combine(_dir, "sys"), _dir), placement: null!, _claims, _options);

    private LocalLvCommand Local() => new(new DmSetup(_runner, Path.Combine(_dir, "sys"), _dir), _fenced, _claims, _activity, _options);

    private SnapshotOperation Snapshot() => new(new LvmDriver(_runner), Local(), placement: null!, _options);

    private static readonly LvOperation ByFour = new("lk1", 4 << 20, +1);

    private static readonly LvOperation Snap = new("lk1", 8 << 20, NewName: "lk1s");

    private static readonly MetadataWritePermit Permit = MetadataWritePermit.SingleHost("node3");

    [Fact]
    public async Task Extend_OfAnLvAnotherHostHolds_GoesToTheQueue_WithoutAnyCommand()
    {
        _claims.Set(new Dictionary<string, ActivationClaim> { ["lk1"] = new("node2", ActivationClaim.Exclusive, 4, DateTimeOffset.UnixEpoch) });

        Assert.Null(await Extend().RunHereAsync(Lk1, ByFour, "op-1", Permit, CancellationToken.None));
        Assert.Empty(_runner.Ran);
    }

    [Fact]
    public async Task Extend_RefusedByLvmlockd_GoesToTheQueue()
    {
        _runner.Rules["lvextend"] = (5, "", "  LV locked by other host: san/lk1\n");

        Assert.Null(await Extend().RunHereAsync(Lk1, ByFour, "op-1", Permit, CancellationToken.None));
        Assert.Contains(_runner.Ran, r => r.Args.StartsWith("lvextend", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Extend_OfAnLvFencedHere_Refused_WithoutAnyCommand()
    {
        ActiveHere();
        _fenced.Add("lk1");

        var refused = await Assert.ThrowsAsync<OperationRefused>(() => Extend().RunHereAsync(Lk1, ByFour, "op-1", Permit, CancellationToken.None));

        Assert.Equal("fenced", refused.Code);
        Assert.Contains("vgmesh lv unfence lk1", refused.Message, StringComparison.Ordinal);
        Assert.Empty(_runner.Ran);
    }

    [Fact]
    public async Task Extend_OfAnLvHeldSharedHere_UpdatesUnderTheSharedLock_AndThisHostsTableNeedsNothingMore()
    {
        ActiveHere();
        _lockd.Set(new LockdView("sanlock", 3, LocalOperations.Started, "lvm_san", [], ["lk1"], null, DateTimeOffset.UnixEpoch));
        _runner.Rules["--info"] = (0, $"VG san lock_type=sanlock dnTGvr-Jrvd-0A2i-Cdhp-X7MO-R3Ma-VSehdy\nLS sanlock lvm_san\nLK VG un ver 5\nLK LV sh {LvUuid}\n", "");
        _runner.Rules["lvextend"] = (0, "", "  Creating volume group backup \"/etc/lvm/backup/san\" (seqno 9).\n");

        var done = await Extend().RunHereAsync(Lk1, ByFour, "op-1", Permit, CancellationToken.None);

        Assert.Equal(9, done!.Seqno);
        Assert.Contains(_runner.Ran, r => r.Tool == LvmTool.Lvmlockctl);
        var extend = Assert.Single(_runner.Ran, r => r.Args.StartsWith("lvextend", StringComparison.Ordinal)).Args;
        Assert.Contains("--lockopt shupdate", extend, StringComparison.Ordinal);
        Assert.True(_steps.TakeRanHere("op-1")); // LVM reloaded this host's table in the command
    }

    [Fact]
    public async Task Extend_OfAnLvHeldExclusivelyHere_PlainLvextend()
    {
        ActiveHere();
        _lockd.Set(new LockdView("sanlock", 3, LocalOperations.Started, "lvm_san", ["lk1"], [], null, DateTimeOffset.UnixEpoch));
        _runner.Rules["--info"] = (0, $"VG san lock_type=sanlock dnTGvr-Jrvd-0A2i-Cdhp-X7MO-R3Ma-VSehdy\nLS sanlock lvm_san\nLK LV ex {LvUuid}\n", "");

        await Extend().RunHereAsync(Lk1, ByFour, "op-1", Permit, CancellationToken.None);

        Assert.DoesNotContain("--lockopt", Assert.Single(_runner.Ran, r => r.Args.StartsWith("lvextend", StringComparison.Ordinal)).Args, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Snapshot_OfAnOriginAnotherHostHolds_GoesToTheQueue_WithoutAnyCommand()
    {
        _claims.Set(new Dictionary<string, ActivationClaim> { ["lk1"] = new("node2", ActivationClaim.Exclusive, 4, DateTimeOffset.UnixEpoch) });

        Assert.Null(await Snapshot().RunHereAsync(Lk1, Snap, "op-1", Permit, CancellationToken.None));
        Assert.Empty(_runner.Ran);
    }

    [Fact]
    public async Task Snapshot_OfAnOriginFencedHere_Refused_WithoutAnyCommand()
    {
        ActiveHere();
        _fenced.Add("lk1");

        var refused = await Assert.ThrowsAsync<OperationRefused>(() => Snapshot().RunHereAsync(Lk1, Snap, "op-1", Permit, CancellationToken.None));

        Assert.Equal("fenced", refused.Code);
        Assert.Empty(_runner.Ran);
    }

    [Fact]
    public async Task Remove_OfAnLvActiveHere_OrHeldElsewhere_GoesToTheQueue_WithoutAnyCommand()
    {
        ActiveHere();
        Assert.Null(await Remove().RunHereAsync(Lk1, new LvOperation("lk1"), "op-1", Permit, CancellationToken.None));

        _claims.Set(new Dictionary<string, ActivationClaim> { ["lk2"] = new(null, ActivationClaim.Shared, 4, DateTimeOffset.UnixEpoch, ["node1", "node2"]) });
        Assert.Null(await Remove().RunHereAsync(new LvRef("san", "lk2"), new LvOperation("lk2"), "op-2", Permit, CancellationToken.None));

        Assert.Empty(_runner.Ran);
    }

    [Fact]
    public async Task Remove_RefusedByLvmlockd_GoesToTheQueue()
    {
        _runner.Rules["lvs"] = (0, "{\"report\": [{\"lv\": []}]}", "");
        _runner.Rules["lvremove"] = (5, "", "  LV locked by other host: san/lk1\n");

        Assert.Null(await Remove().RunHereAsync(Lk1, new LvOperation("lk1"), "op-1", Permit, CancellationToken.None));
        Assert.Contains(_runner.Ran, r => r.Args.StartsWith("lvremove", StringComparison.Ordinal));
    }
}
