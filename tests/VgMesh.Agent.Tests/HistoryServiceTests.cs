using Microsoft.Extensions.Logging.Abstractions;

namespace VgMesh.Agent.Tests;

public sealed class HistoryServiceTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vgmesh-history-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A clock the test moves by hand.</summary>
    private sealed class HandClock(DateTimeOffset start) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = start;

        public override DateTimeOffset GetUtcNow() => Now;
    }

    [Fact]
    public void OneRound_DeletesWhatIsOlderThanTheRetention_KeepsUnfinishedIntentsAndRecentHistory()
    {
        var clock = new HandClock(new DateTimeOffset(2026, 11, 1, 12, 0, 0, TimeSpan.Zero));
        using var journal = new Journal(Path.Combine(_dir, "journal.db"), clock);
        journal.Finish(journal.Begin("lvcreate", "san/a", "lvm lvcreate ...", 1), 0, "ok");
        journal.Begin("lvremove", "san/b", "lvm lvremove ...", 1); // the process died mid-command

        clock.Now += TimeSpan.FromDays(6);
        journal.Finish(journal.Begin("lvextend", "san/a", "lvm lvextend ...", 1), 0, "ok");
        var options = new AgentOptions { VolumeGroup = "san", HistoryRetentionHours = 7 * 24 };
        var history = new HistoryService(options, journal, clock, NullLogger<HistoryService>.Instance);
        Assert.Equal(0, history.PruneOnce());

        clock.Now += TimeSpan.FromDays(2); // the first entries are 8 days old, the last one 2
        Assert.Equal(1, history.PruneOnce());
        Assert.Single(journal.Unfinished());
        Assert.Equal(2, journal.Recent(10).Count);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(87_601)]
    public void Retention_OutOfRange_RefusedByName(int hours)
    {
        var e = Assert.Throws<ArgumentException>(() => new AgentOptions { VolumeGroup = "san", HistoryRetentionHours = hours }.Validate());
        Assert.Contains("HistoryRetentionHours", e.Message, StringComparison.Ordinal);
    }
}
