using VgMesh.Lvm.Commands;
using VgMesh.Lvm.Scsi;

namespace VgMesh.Lvm.Tests.Scsi;

/// <summary>mpathpersist's answers as multipath-tools 0.9.4 prints them (recorded in the lab on 2026-12-06), and the keys vgmesh registers.</summary>
public class PersistentReservationsTests
{
    private const string TwoHostsTwoPaths = """
          PR generation=0x4, 	4 registered reservation keys follow:
            0x766d000000000001
            0x766d000000000001
            0x766d000000000002
            0x766d000000000002

        """;

    [Fact]
    public void ParseKeys_OneKeyPerRegistration_AndNoneWhenEmpty()
    {
        var keys = PersistentReservations.ParseKeys(TwoHostsTwoPaths);
        Assert.Equal(4, keys.Count);
        Assert.Equal(2, keys.Count(k => k == new ReservationKey(0x766d000000000002)));
        Assert.Empty(PersistentReservations.ParseKeys("  PR generation=0x6, \t0 registered reservation key.\n"));
    }

    [Fact]
    public void ParseReservation_HolderAndType_OrNone()
    {
        var (holder, type) = PersistentReservations.ParseReservation("""
              PR generation=0x4, Reservation follows:
               Key = 0x766d000000000001
              scope = LU_SCOPE, type = Write Exclusive, registrants only

            """);
        Assert.Equal(new ReservationKey(0x766d000000000001), holder);
        Assert.Equal("Write Exclusive, registrants only", type);
        Assert.Equal((null, null), PersistentReservations.ParseReservation("  PR generation=0x6, there is NO reservation held \n"));
    }

    [Fact]
    public void KeyFor_IsStable_StartsWithVm_AndDiffersByHostAndCluster()
    {
        var a = ReservationKey.For("prod", "node1");
        Assert.Equal(a, ReservationKey.For("prod", "node1"));
        Assert.Equal(0x766DUL, a.Value >> 48);
        Assert.NotEqual(a, ReservationKey.For("prod", "node2"));
        Assert.NotEqual(a, ReservationKey.For("test", "node1"));
        Assert.Equal(a, ReservationKey.Parse(a.ToString()));
        Assert.Matches("^0x[0-9a-f]{16}$", a.ToString());
    }

    [Theory]
    [InlineData("")]
    [InlineData("766d")]
    [InlineData("0x")]
    [InlineData("0x0")]
    [InlineData("0x1234567890abcdef0")]
    [InlineData("0xzz")]
    public void ParseKey_RefusesWhatIsNotAKey(string text) =>
        Assert.Throws<FormatException>(() => ReservationKey.Parse(text));

    [Fact]
    public async Task Preempt_TriesPreemptAndAbortFirst_ThenPreempt_UnderThePermit_AndTheActionIsTheVerb()
    {
        var runner = new Recorder(fail: a => a[0] == "--preempt-abort");
        var permit = new Permit();
        var how = await new PersistentReservations(runner).PreemptAsync("/dev/mapper/luna", new ReservationKey(1), new ReservationKey(2), permit, CancellationToken.None);
        Assert.Equal("preempt", how);
        Assert.Equal(2, runner.Commands.Count);
        Assert.All(runner.Commands, c => Assert.Same(permit, c.Permit));
        Assert.Equal(["preempt", "--out", "--param-rk=0x0000000000000001", "--param-sark=0x0000000000000002", "--prout-type=5", "/dev/mapper/luna"], [runner.Commands[1].Verb, .. runner.Commands[1].Args.Skip(1)]);
        Assert.All(runner.Commands, c => Assert.Equal(LvmTool.Mpathpersist, c.Tool));
    }

    [Fact]
    public async Task Preempt_AfterATargetRefusedPreemptAndAbort_GoesStraightToPreempt()
    {
        var runner = new Recorder(fail: a => a[0] == "--preempt-abort");
        var reservations = new PersistentReservations(runner);
        await reservations.PreemptAsync("/dev/mapper/luna", new ReservationKey(1), new ReservationKey(2), new Permit(), CancellationToken.None);
        runner.Commands.Clear();
        Assert.Equal("preempt", await reservations.PreemptAsync("/dev/mapper/luna", new ReservationKey(1), new ReservationKey(3), new Permit(), CancellationToken.None));
        Assert.Equal(["preempt"], runner.Commands.Select(c => c.Verb));
    }

    private sealed class Permit : MetadataWritePermit
    {
        public override string Holder => "node1";

        public override long FencingToken => 7;

        public override void EnsureValid()
        {
        }
    }

    private sealed class Recorder(Func<IReadOnlyList<string>, bool> fail) : ILvmRunner
    {
        public List<LvmCommand> Commands { get; } = [];

        public Task<ProcessResult> RunAsync(LvmCommand command, CancellationToken cancellationToken)
        {
            Commands.Add(command);
            return Task.FromResult(new ProcessResult(["mpathpersist", .. command.Args], fail(command.Args) ? 5 : 0, "", fail(command.Args) ? "PR out: command failed" : "", TimeSpan.Zero));
        }
    }
}
