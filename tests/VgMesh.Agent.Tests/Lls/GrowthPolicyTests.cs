using VgMesh.Agent.Lls;

namespace VgMesh.Agent.Tests.Lls;

public class GrowthPolicyTests
{
    private static readonly LlsOptions Options = new() { GrowThresholdPercent = 80, GrowStepPercent = 50, GrowAheadSeconds = 5 };
    private const long Size = 8 << 20; // 16384 sectors

    [Fact]
    public void UnderTheThreshold_AndFillingSlowly_NothingIsDue()
    {
        var before = new SnapshotSample(8000, 16384, 10);
        var now = new SnapshotSample(8100, 16384, 11); // 50 KiB/s: full in about 85 s
        Assert.Null(GrowthPolicy.Step(before, now, Size, Options));
        Assert.Null(GrowthPolicy.Step(null, now, Size, Options));
    }

    [Fact]
    public void OverTheThreshold_GrowsByTheStep()
    {
        Assert.Equal(Size / 2, GrowthPolicy.Step(null, new SnapshotSample(13200, 16384, 1), Size, Options));
    }

    [Fact]
    public void FillingFast_GrowsEarly_AndByWhatTheRateNeeds()
    {
        // 2 MiB/s with 4 MiB left: full in 2 s, under the 5 s look-ahead, at 50 %.
        var before = new SnapshotSample(4096, 16384, 20);
        var now = new SnapshotSample(8192, 16384, 21);
        Assert.Equal(20L << 20, GrowthPolicy.Step(before, now, Size, Options)); // 2 MiB/s x 10 s
    }

    [Fact]
    public void WithoutLookAhead_OnlyTheThresholdCounts()
    {
        var options = Options with { GrowAheadSeconds = 0 };
        Assert.Null(GrowthPolicy.Step(new SnapshotSample(4096, 16384, 20), new SnapshotSample(8192, 16384, 21), Size, options));
    }

    [Fact]
    public void TheStep_IsCutToWhatTheQuotaLeaves()
    {
        var over = new SnapshotSample(13200, 16384, 1);
        Assert.Equal(3L << 20, GrowthPolicy.Step(null, over, Size, Options, room: (3L << 20) + 12345));
        Assert.Equal(0, GrowthPolicy.Step(null, over, Size, Options, room: 100));
    }
}
