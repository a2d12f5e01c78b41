using System.Collections.Immutable;
using VgMesh.Cluster.Coordinator;

namespace VgMesh.Cluster.Events;

/// <summary>
/// How far a host has applied the event sequence: the last event's sequence number and the
/// journal entry that held it (where a catch-up read starts). Kept on the host's disk.
/// </summary>
public sealed record AppliedPosition(long Sequence, long JournalSequenceNr)
{
    public static AppliedPosition Start { get; } = new(0, 0);

    /// <summary>What to do with a batch that arrived live.</summary>
    public BatchPlan Plan(EventsCommitted batch)
    {
        if (batch.Events.IsEmpty || batch.Events[^1].Sequence <= Sequence)
        {
            return BatchPlan.Skip.Instance; // applied already (a duplicate, or read from the journal first)
        }

        if (batch.Events[0].Sequence > Sequence + 1)
        {
            return new BatchPlan.Gap(Sequence + 1, batch.Events[0].Sequence - 1);
        }

        return new BatchPlan.Apply(batch with { Events = [.. batch.Events.Where(e => e.Sequence > Sequence)] });
    }

    /// <summary>The position just before a batch: where a host stands once it has resynchronised past events the journal no longer has.</summary>
    public AppliedPosition Before(EventsCommitted batch) =>
        batch.Events.IsEmpty ? this : new AppliedPosition(batch.Events[0].Sequence - 1, JournalSequenceNr);

    /// <summary>The position after a batch was applied.</summary>
    public AppliedPosition After(EventsCommitted batch) =>
        batch.Events.IsEmpty ? this : new AppliedPosition(batch.Events[^1].Sequence, Math.Max(JournalSequenceNr, batch.JournalSequenceNr));

    /// <summary>
    /// The batches a journal entry holds, numbered as the coordinator numbered them: an operation's
    /// events end at its result's <see cref="OperationResult.LastEventSequence"/>.
    /// </summary>
    public static EventsCommitted? FromJournal(long journalSequenceNr, ICoordinatorEvent entry)
    {
        if (entry is not OperationCompleted { Events.IsEmpty: false } c)
        {
            return null;
        }

        var first = c.Result.LastEventSequence - c.Events.Length + 1;
        return new EventsCommitted(journalSequenceNr, [.. c.Events.Select((e, i) => new SequencedEvent(first + i, c.Generation, e))]);
    }
}

public abstract record BatchPlan
{
    public sealed record Apply(EventsCommitted Batch) : BatchPlan;

    public sealed record Skip : BatchPlan
    {
        public static Skip Instance { get; } = new();
    }

    /// <summary>Events <paramref name="From"/> to <paramref name="To"/> never arrived: read them from the journal first.</summary>
    public sealed record Gap(long From, long To) : BatchPlan;
}

/// <summary>
/// What a host does with cluster events: its device-mapper work. Called with one batch at a
/// time, in sequence order, each event once; the position is saved only after it returns.
/// </summary>
public interface IEventApplier
{
    Task ApplyAsync(ImmutableArray<SequencedEvent> events, CancellationToken ct);

    /// <summary>
    /// Events this host never applied are gone from the journal (older than the history
    /// retention): bring this host's state in line without them, from the state itself (a full
    /// reconcile pass). The follower then goes on from the first event the journal still has.
    /// </summary>
    Task ResyncAsync(CancellationToken ct);
}
