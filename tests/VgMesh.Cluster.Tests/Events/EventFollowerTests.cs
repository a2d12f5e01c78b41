using System.Collections.Immutable;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using VgMesh.Cluster.Coordinator;
using VgMesh.Cluster.Events;

namespace VgMesh.Cluster.Tests.Events;

public sealed class EventFollowerTests() : TestKit(TestConfig.SerializerBinding)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private readonly string _dir = Directory.CreateTempSubdirectory("vgmesh-follower-").FullName;

    private static EventsCommitted Batch(long journalSequenceNr, params long[] sequences) =>
        new(journalSequenceNr, [.. sequences.Select(s => new SequencedEvent(s, 1, new ClusterEvent("lv.created", $"san/lv{s}", null, s, $"op-{s}", "node1", DateTimeOffset.UnixEpoch)))]);

    [Fact]
    public void CatchUp_EventsPrunedFromTheJournal_OneResyncThenTheRestInOrder()
    {
        // This host applied up to event 2; the journal has forgotten 3 and 4 (older than the retention).
        var path = Path.Combine(_dir, "applied.json");
        new AppliedStore(path).Save(new AppliedPosition(2, 10));
        var applied = new List<long>();
        var journal = new FixedJournal([Batch(40, 5, 6), Batch(41, 7)]);
        var coordinator = CreateTestProbe();

        Sys.ActorOf(Props.Create(() => new EventFollower(new EventFollowerSettings("node2", path, CoordinatorSettings.DefaultEventsTopic, null, null), new RecordingApplier(applied), journal, CreateTestProbe().Ref, coordinator.Ref, TimeProvider.System, null)));

        coordinator.FishForMessage<HostApplied>(a => a.Sequence == 7, Wait);
        lock (applied)
        {
            Assert.Equal([-1L, 5, 6, 7], applied);
        }

        Assert.Equal(new AppliedPosition(7, 41), new AppliedStore(path).Load());
        Assert.Equal([10L], journal.ReadFrom);
    }

    [Fact]
    public void CatchUp_NothingPruned_NoResync()
    {
        var path = Path.Combine(_dir, "applied.json");
        var applied = new List<long>();
        var coordinator = CreateTestProbe();
        var journal = new FixedJournal([Batch(3, 1, 2), Batch(4, 3)]);

        Sys.ActorOf(Props.Create(() => new EventFollower(new EventFollowerSettings("node2", path, CoordinatorSettings.DefaultEventsTopic, null, null), new RecordingApplier(applied), journal, CreateTestProbe().Ref, coordinator.Ref, TimeProvider.System, null)));

        coordinator.FishForMessage<HostApplied>(a => a.Sequence == 3, Wait);
        lock (applied)
        {
            Assert.Equal([1L, 2, 3], applied);
        }
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing)
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    /// <summary>A journal that holds the given batches (and nothing before them, as after a prune).</summary>
    private sealed class FixedJournal(ImmutableArray<EventsCommitted> batches) : IJournalReader
    {
        public List<long> ReadFrom { get; } = [];

        public Task<IReadOnlyList<EventsCommitted>> ReadAfterAsync(long journalSequenceNr, CancellationToken ct)
        {
            lock (ReadFrom)
            {
                ReadFrom.Add(journalSequenceNr);
            }

            return Task.FromResult<IReadOnlyList<EventsCommitted>>([.. batches.Where(b => b.JournalSequenceNr > journalSequenceNr)]);
        }
    }
}
