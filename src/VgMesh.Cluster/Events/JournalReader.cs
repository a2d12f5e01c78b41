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
    private readonly SqlReadJournal _journal = PersistenceQuery.Get(system).ReadJournalFor<SqlReadJournal>(SqlReadJournal.Identifier);
    private readonly ActorMaterializer _materializer = system.Materializer();

    public async Task<IReadOnlyList<EventsCommitted>> ReadAfterAsync(long journalSequenceNr, CancellationToken ct)
    {
        var batches = new List<EventsCommitted>();
        await _journal.CurrentEventsByPersistenceId(CoordinatorSettings.PersistenceId, journalSequenceNr + 1, long.MaxValue)
            .RunForeach(e =>
            {
                if (e.Event is ICoordinatorEvent entry && AppliedPosition.FromJournal(e.SequenceNr, entry) is { } batch)
                {
                    batches.Add(batch);
                }
            }, _materializer)
            .WaitAsync(ct)
            .ConfigureAwait(false);
        return batches;
    }
}
