using Akka.Actor;
using Akka.Persistence.Query;
using Akka.Persistence.Sql.Query;
using Akka.Streams;
using VgMesh.Cluster.Coordinator;

namespace VgMesh.Cluster.Events;

/// <summary>Reads the coordinator's journal after a position: what a host missed.</summary>
public interface IJournalReader
{
    Task<IReadOnlyList<EventsCommitted>> ReadAfterAsync(long journalSequenceNr, CancellationToken ct);
}

/// <summary>The journal through Akka.Persistence.Query's SQL read journal, by the coordinator's persistence id.</summary>
public sealed class SqlJournalReader(ActorSystem system) : IJournalReader
{
    // Made at the first read, not at start: making it waits on the database, and an agent that
    // starts while cut off from it must still start (and fence what it holds).
    // PublicationOnly: a failure (database unreachable) is not kept; the next read tries again.
    private readonly Lazy<SqlReadJournal> _journal = new(() => PersistenceQuery.Get(system).ReadJournalFor<SqlReadJournal>(SqlReadJournal.Identifier), LazyThreadSafetyMode.PublicationOnly);
    private readonly Lazy<ActorMaterializer> _materializer = new(() => system.Materializer(), LazyThreadSafetyMode.PublicationOnly);

    public async Task<IReadOnlyList<EventsCommitted>> ReadAfterAsync(long journalSequenceNr, CancellationToken ct)
    {
        var batches = new List<EventsCommitted>();
        await _journal.Value.CurrentEventsByPersistenceId(CoordinatorSettings.PersistenceId, journalSequenceNr + 1, long.MaxValue)
            .RunForeach(e =>
            {
                if (e.Event is ICoordinatorEvent entry && AppliedPosition.FromJournal(e.SequenceNr, entry) is { } batch)
                {
                    batches.Add(batch);
                }
            }, _materializer.Value)
            .WaitAsync(ct)
            .ConfigureAwait(false);
        return batches;
    }
}
