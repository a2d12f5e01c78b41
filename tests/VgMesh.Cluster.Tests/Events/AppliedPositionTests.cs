using System.Collections.Immutable;
using VgMesh.Cluster.Coordinator;
using VgMesh.Cluster.Events;

namespace VgMesh.Cluster.Tests.Events;

public class AppliedPositionTests
{
    private static EventsCommitted Batch(long journal, params long[] sequences) =>
        new(journal, [.. sequences.Select(s => new SequencedEvent(s, 1, new ClusterEvent("lv.created", "san/a", null, s, "op", "node1", DateTimeOffset.UnixEpoch)))]);

    [Fact]
    public void Plan_NextInSequence_Applied()
    {
        var plan = new AppliedPosition(2, 10).Plan(Batch(12, 3, 4));

        var apply = Assert.IsType<BatchPlan.Apply>(plan);
        Assert.Equal([3L, 4L], apply.Batch.Events.Select(e => e.Sequence));
    }

    [Fact]
    public void Plan_AlreadyApplied_Skipped()
    {
        Assert.IsType<BatchPlan.Skip>(new AppliedPosition(4, 12).Plan(Batch(12, 3, 4)));
        Assert.IsType<BatchPlan.Skip>(new AppliedPosition(4, 12).Plan(Batch(13)));
    }

    [Fact]
    public void Plan_PartlyApplied_OnlyTheRest()
    {
        var apply = Assert.IsType<BatchPlan.Apply>(new AppliedPosition(3, 12).Plan(Batch(12, 3, 4)));

        Assert.Equal([4L], apply.Batch.Events.Select(e => e.Sequence));
    }

    [Fact]
    public void Plan_AfterAMissingBatch_Gap()
    {
        var gap = Assert.IsType<BatchPlan.Gap>(new AppliedPosition(2, 10).Plan(Batch(15, 5)));

        Assert.Equal(3, gap.From);
        Assert.Equal(4, gap.To);
    }

    [Fact]
    public void FromJournal_NumbersEventsAsTheCoordinatorDid()
    {
        var completed = new OperationCompleted(
            new OperationResult("op", OperationStatus.Succeeded, "ok", null, "node1", 3, DateTimeOffset.UnixEpoch, 7),
            [new ClusterEvent("lv.created", "san/a", null, 1, "op", "node1", DateTimeOffset.UnixEpoch), new ClusterEvent("lv.activated", "san/a", null, 1, "op", "node1", DateTimeOffset.UnixEpoch)],
            [],
            3,
            DateTimeOffset.UnixEpoch);

        var batch = AppliedPosition.FromJournal(21, completed)!;

        Assert.Equal(21, batch.JournalSequenceNr);
        Assert.Equal([6L, 7L], batch.Events.Select(e => e.Sequence));
        Assert.All(batch.Events, e => Assert.Equal(3, e.Generation));
        Assert.Null(AppliedPosition.FromJournal(22, new OperationStarted("op", 3, DateTimeOffset.UnixEpoch)));
    }

    [Fact]
    public void Store_SavesAndLoadsAcrossInstances()
    {
        var dir = Directory.CreateTempSubdirectory("vgmesh-applied-").FullName;
        try
        {
            var path = Path.Combine(dir, "state", "applied.json");
            Assert.Equal(AppliedPosition.Start, new AppliedStore(path).Load());

            new AppliedStore(path).Save(new AppliedPosition(9, 40));

            Assert.Equal(new AppliedPosition(9, 40), new AppliedStore(path).Load());
            File.WriteAllText(path, "{not json");
            var e = Assert.Throws<InvalidDataException>(() => new AppliedStore(path).Load());
            Assert.Contains("move the file away", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}

/// <summary>An applier that records every sequence number it is given (a resync as -1), across follower incarnations.</summary>
internal sealed class RecordingApplier(List<long> applied) : IEventApplier
{
    public Task ResyncAsync(CancellationToken ct)
    {
        lock (applied)
        {
            applied.Add(-1);
        }

        return Task.CompletedTask;
    }

    public Task ApplyAsync(ImmutableArray<SequencedEvent> events, CancellationToken ct)
    {
        lock (applied)
        {
            applied.AddRange(events.Select(e => e.Sequence));
        }

        return Task.CompletedTask;
    }
}
