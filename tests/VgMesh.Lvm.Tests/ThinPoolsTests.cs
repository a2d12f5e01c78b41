using VgMesh.Lvm.Commands;
using VgMesh.Lvm.DeviceMapper;

namespace VgMesh.Lvm.Tests;

public sealed class ThinPoolsTests
{
    [Fact]
    public void ThinIds_FromLvsLines_AnLvWithoutOneIsLeftOut()
    {
        var ids = LvmDriver.ParseThinIds("  th,1\n  thsnap,3\n  plain,\n");
        Assert.Equal(new Dictionary<string, long> { ["th"] = 1, ["thsnap"] = 3 }, ids);
    }

    [Fact]
    public async Task Delta_ReadsAMetadataSnapshot_AndLetsItGo_EvenWhenThinDeltaFails()
    {
        var runner = new Recorder(c => c.Tool == LvmTool.ThinDelta);
        var thin = new ThinPools(runner, new DmSetup(runner));
        await Assert.ThrowsAnyAsync<LvmException>(() => thin.DeltaAsync("san", "tp", 3, 1));
        Assert.Equal([
            "Dmsetup message -- san-tp-tpool 0 reserve_metadata_snap",
            "ThinDelta --metadata-snap --snap1 3 --snap2 1 /dev/mapper/san-tp_tmeta",
            "Dmsetup message -- san-tp-tpool 0 release_metadata_snap",
        ], runner.Commands);
    }

    [Fact]
    public async Task APoolThatRefusesTheSnapshot_IsNamedWithTheWayOut_AndNothingElseRuns()
    {
        var runner = new Recorder(c => c.Args.Contains("reserve_metadata_snap"));
        var thin = new ThinPools(runner, new DmSetup(runner));
        var e = await Assert.ThrowsAsync<ThinMetadataSnapshotException>(() => thin.DeltaAsync("san", "tp", 3, 1));
        Assert.Contains("dmsetup message san-tp-tpool 0 release_metadata_snap", e.Message, StringComparison.Ordinal);
        Assert.Single(runner.Commands);
    }

    [Fact]
    public async Task OnlyTheTwoMetadataSnapshotMessages_AreSent()
    {
        var runner = new Recorder(_ => false);
        await Assert.ThrowsAsync<ArgumentException>(() => new DmSetup(runner).MessageAsync("san-tp-tpool", "delete 1"));
        Assert.Empty(runner.Commands);
    }

    [Fact]
    public async Task ASnapshotWithoutASize_IsThin_MadeInactiveAndWithoutTheSkipFlag()
    {
        var runner = new Recorder(_ => false);
        await new LvmDriver(runner).CreateSnapshotAsync(new LvRef("san", "tgold"), "tvm-a", null, null, ["gold"], MetadataWritePermit.SingleHost("node2"));
        Assert.Equal(["Lvm lvcreate --verbose --yes --snapshot --name tvm-a --setactivationskip n --activate n --addtag gold -- san/tgold"], runner.Commands);
    }

    [Fact]
    public async Task AThinSnapshotWithAChunkSize_IsRefused_AndNothingRuns()
    {
        var runner = new Recorder(_ => false);
        var e = await Assert.ThrowsAsync<ArgumentException>(() => new LvmDriver(runner).CreateSnapshotAsync(new LvRef("san", "tgold"), "tvm-a", null, 64 * 1024, null, MetadataWritePermit.SingleHost("node2")));
        Assert.Contains("san/tvm-a", e.Message, StringComparison.Ordinal);
        Assert.Empty(runner.Commands);
    }

    private sealed class Recorder(Func<LvmCommand, bool> fail) : ILvmRunner
    {
        public List<string> Commands { get; } = [];

        public Task<ProcessResult> RunAsync(LvmCommand command, CancellationToken cancellationToken)
        {
            Commands.Add($"{command.Tool} {string.Join(' ', command.Args)}");
            var failed = fail(command);
            return Task.FromResult(new ProcessResult([command.Tool.ToString(), .. command.Args], failed ? 1 : 0, "", failed ? "failed" : "", TimeSpan.Zero));
        }
    }
}
