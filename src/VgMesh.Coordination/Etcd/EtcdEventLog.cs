using System.Runtime.CompilerServices;
using System.Text.Json;

namespace VgMesh.Coordination.Etcd;

/// <summary>
/// Events are keys under <c>events/</c>, written by the leader in fenced transactions; the
/// transaction's revision is their sequence. Subscribers watch from the revision after the last
/// one they applied; when that revision is compacted they re-list the stored events (which
/// outlive compaction) and watch on from the listed revision, so no event is missed or repeated.
/// </summary>
public sealed class EtcdEventLog(EtcdClient client, EtcdCoordinator coordinator, ClusterKeys keys, string host, TimeProvider time) : IEventLog
{
    public async Task<long> AppendAsync(IReadOnlyList<ClusterEvent> events, CancellationToken ct = default)
    {
        var r = await coordinator.FencedTxnAsync([], Puts(events), ct).ConfigureAwait(false);
        return r.Header.Revision;
    }

    /// <summary>The puts that store <paramref name="events"/>; shared with the queue's fenced completion.</summary>
    internal IReadOnlyList<RequestOp> Puts(IReadOnlyList<ClusterEvent> events) =>
        events.Select(e => RequestOp.Put(keys.Event(Guid.NewGuid().ToString("N")), JsonSerializer.SerializeToUtf8Bytes(e, CoordinationJsonContext.Default.ClusterEvent))).ToList();

    public async IAsyncEnumerable<EventBatch> SubscribeAsync(long afterRevision, [EnumeratorCancellation] CancellationToken ct = default)
    {
        var delivered = afterRevision;
        var watchFrom = afterRevision + 1;
        while (!ct.IsCancellationRequested)
        {
            var compacted = false;
            await using (var e = EtcdWatcher.WatchPrefixAsync(client, keys.EventsPrefix, watchFrom, time, ct).GetAsyncEnumerator(ct))
            {
                while (true)
                {
                    try
                    {
                        if (!await e.MoveNextAsync().ConfigureAwait(false))
                        {
                            yield break;
                        }
                    }
                    catch (EtcdCompactedException)
                    {
                        compacted = true;
                        break;
                    }

                    foreach (var batch in Batches(e.Current.Events.Where(ev => ev.Type != "DELETE").Select(ev => ev.Kv), delivered))
                    {
                        delivered = batch.Revision;
                        yield return batch;
                    }
                }
            }

            if (compacted)
            {
                // Re-list what is stored after what we delivered, then watch from the listed revision.
                var listed = await ListAfterAsync(delivered, ct).ConfigureAwait(false);
                foreach (var batch in Batches(listed.Kvs, delivered))
                {
                    delivered = batch.Revision;
                    yield return batch;
                }

                watchFrom = listed.Header.Revision + 1;
            }
        }
    }

    private Task<RangeResponse> ListAfterAsync(long revision, CancellationToken ct) =>
        client.RangeAsync(new RangeRequest { Key = keys.EventsPrefix, RangeEnd = Keys.PrefixEnd(keys.EventsPrefix), MinModRevision = revision + 1, SortTarget = "MOD", SortOrder = "ASCEND" }, ct);

    private static IEnumerable<EventBatch> Batches(IEnumerable<KeyValue> kvs, long after) =>
        kvs.Where(kv => kv.ModRevision > after)
            .GroupBy(kv => kv.ModRevision)
            .OrderBy(g => g.Key)
            .Select(g => new EventBatch(g.Key, g.Select(kv => JsonSerializer.Deserialize(kv.Value, CoordinationJsonContext.Default.ClusterEvent)!).ToList()));

    public Task AcknowledgeAsync(long revision, CancellationToken ct = default) =>
        client.PutAsync(keys.Applied(host), JsonSerializer.SerializeToUtf8Bytes(new AppliedMark(revision, time.GetUtcNow()), CoordinationJsonContext.Default.AppliedMark), ct: ct);

    public async Task<IReadOnlyList<HostProgress>> ProgressAsync(CancellationToken ct = default)
    {
        var progress = new List<HostProgress>();
        foreach (var (host, mark) in await MarksAsync(ct).ConfigureAwait(false))
        {
            var pending = await ListAfterAsync(mark.Revision, ct).ConfigureAwait(false);
            var lagTime = pending.Kvs.Count == 0
                ? TimeSpan.Zero
                : time.GetUtcNow() - JsonSerializer.Deserialize(pending.Kvs[0].Value, CoordinationJsonContext.Default.ClusterEvent)!.Time;
            progress.Add(new HostProgress(host, mark.Revision, mark.At, pending.Kvs.Count, lagTime < TimeSpan.Zero ? TimeSpan.Zero : lagTime));
        }

        return progress.OrderBy(p => p.Host, StringComparer.Ordinal).ToList();
    }

    public async Task<IReadOnlyDictionary<string, long>> AppliedAsync(CancellationToken ct = default) =>
        (await MarksAsync(ct).ConfigureAwait(false)).ToDictionary(m => m.Host, m => m.Mark.Revision, StringComparer.Ordinal);

    public async IAsyncEnumerable<IReadOnlyDictionary<string, long>> WatchAppliedAsync([EnumeratorCancellation] CancellationToken ct = default)
    {
        var applied = new Dictionary<string, long>(StringComparer.Ordinal);
        await foreach (var (listing, changes) in EtcdWatcher.ListThenWatchAsync(client, keys.AppliedPrefix, countOnly: false, time, ct).ConfigureAwait(false))
        {
            if (listing is not null)
            {
                applied = listing.Kvs.ToDictionary(kv => ClusterKeys.Name(kv.Key, keys.AppliedPrefix), kv => Mark(kv.Value).Revision, StringComparer.Ordinal);
            }

            foreach (var e in changes?.Events ?? [])
            {
                var name = ClusterKeys.Name(e.Kv.Key, keys.AppliedPrefix);
                if (e.Type == "DELETE")
                {
                    applied.Remove(name);
                }
                else
                {
                    applied[name] = Mark(e.Kv.Value).Revision;
                }
            }

            yield return new Dictionary<string, long>(applied, StringComparer.Ordinal);
        }
    }

    public async Task<int> PruneAsync(DateTimeOffset before, CancellationToken ct = default)
    {
        var floor = await LowestLiveMarkAsync(ct).ConfigureAwait(false);
        var pruned = 0;
        while (floor > 0)
        {
            // Oldest first; events are stamped in the order they are committed.
            var page = await client.RangeAsync(new RangeRequest { Key = keys.EventsPrefix, RangeEnd = Keys.PrefixEnd(keys.EventsPrefix), MaxModRevision = floor, SortTarget = "MOD", SortOrder = "ASCEND", Limit = 100 }, ct).ConfigureAwait(false);
            var old = page.Kvs.TakeWhile(kv => JsonSerializer.Deserialize(kv.Value, CoordinationJsonContext.Default.ClusterEvent)!.Time < before).ToList();
            if (old.Count == 0)
            {
                break;
            }

            await coordinator.FencedTxnAsync([], [.. old.Select(kv => RequestOp.Delete(kv.Key))], ct).ConfigureAwait(false);
            pruned += old.Count;
            if (old.Count < page.Kvs.Count || !page.More)
            {
                break;
            }
        }

        return pruned;
    }

    /// <summary>The lowest revision applied by a live member; 0 (prune nothing) while one has not acknowledged yet.</summary>
    private async Task<long> LowestLiveMarkAsync(CancellationToken ct)
    {
        var live = (await client.RangeAsync(new RangeRequest { Key = keys.MembersPrefix, RangeEnd = Keys.PrefixEnd(keys.MembersPrefix), KeysOnly = true }, ct).ConfigureAwait(false))
            .Kvs.Select(kv => ClusterKeys.Name(kv.Key, keys.MembersPrefix)).ToList();
        var marks = await AppliedAsync(ct).ConfigureAwait(false);
        return live.Count == 0 ? 0 : live.Min(h => marks.GetValueOrDefault(h));
    }

    private static AppliedMark Mark(byte[] json) => JsonSerializer.Deserialize(json, CoordinationJsonContext.Default.AppliedMark)!;

    private async Task<List<(string Host, AppliedMark Mark)>> MarksAsync(CancellationToken ct) =>
        [.. (await client.GetPrefixAsync(keys.AppliedPrefix, ct: ct).ConfigureAwait(false)).Kvs
            .Select(kv => (ClusterKeys.Name(kv.Key, keys.AppliedPrefix), Mark(kv.Value)))];
}
