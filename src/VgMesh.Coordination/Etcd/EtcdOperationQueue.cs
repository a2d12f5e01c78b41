using System.Runtime.CompilerServices;
using System.Text.Json;

namespace VgMesh.Coordination.Etcd;

/// <summary>
/// The operation queue in etcd: <c>ops/ID</c> (created once: the id is the idempotency key; its
/// create revision is the submission order), <c>claims/ID</c> (the leader took it, fenced) and
/// <c>results/ID</c> (exactly one: written by the leader with the operation's events in one fenced
/// transaction, or by the submitter as a cancellation when no leader took it in time; the two
/// exclude each other by comparing on the claim).
/// </summary>
public sealed class EtcdOperationQueue(EtcdClient client, EtcdCoordinator coordinator, EtcdEventLog eventLog, ClusterKeys keys, string host, TimeProvider time) : IOperationQueue
{
    public async Task<QueuedOperation> SubmitAsync(OperationRequest request, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        OperationIds.Validate(request.Id);
        var record = new OperationRecord(request, time.GetUtcNow());
        var key = keys.Op(request.Id);
        var txn = new TxnRequest
        {
            Compare = [Compare.Absent(key)],
            Success = [RequestOp.Put(key, JsonSerializer.SerializeToUtf8Bytes(record, CoordinationJsonContext.Default.OperationRecord)), RequestOp.Get(key)],
            Failure = [RequestOp.Get(key)],
        };
        TxnResponse r;
        try
        {
            r = await client.TxnAsync(txn, ct).ConfigureAwait(false);
        }
        catch (EtcdOutcomeUnknownException)
        {
            // Settled by reading back the key the id names; the create-if-absent makes a second try safe.
            var existing = (await client.GetAsync(key, ct).ConfigureAwait(false)).Kvs.FirstOrDefault();
            if (existing is not null)
            {
                return ToQueued(existing, request);
            }

            r = await client.TxnAsync(txn, ct).ConfigureAwait(false);
        }

        var kv = (r.Succeeded ? r.Responses[1] : r.Responses[0]).ResponseRange!.Kvs.Single();
        return ToQueued(kv, request);
    }

    private static QueuedOperation ToQueued(KeyValue kv, OperationRequest asked)
    {
        var stored = JsonSerializer.Deserialize(kv.Value, CoordinationJsonContext.Default.OperationRecord)!;
        if (stored.Request.Kind != asked.Kind || stored.Request.Payload != asked.Payload)
        {
            throw new OperationConflictException(asked.Id);
        }

        return new QueuedOperation(stored.Request, kv.CreateRevision, stored.SubmittedAt, false);
    }

    public async Task<long> DepthAsync(CancellationToken ct = default)
    {
        // Each operation gets exactly one result, so the difference of two counts is the backlog.
        var ops = await client.GetPrefixAsync(keys.OpsPrefix, countOnly: true, ct: ct).ConfigureAwait(false);
        var results = await client.GetPrefixAsync(keys.ResultsPrefix, countOnly: true, ct: ct).ConfigureAwait(false);
        return Math.Max(0, ops.Count - results.Count);
    }

    public async Task<OperationResult?> GetResultAsync(string id, CancellationToken ct = default)
    {
        var kv = (await client.GetAsync(keys.Result(OperationIds.Validate(id)), ct).ConfigureAwait(false)).Kvs.FirstOrDefault();
        return kv is null ? null : ReadResult(kv);
    }

    public async Task<OperationResult> WaitAsync(string id, TimeSpan leaderWait, CancellationToken ct = default)
    {
        OperationIds.Validate(id);
        var deadline = time.GetTimestamp() + (long)(leaderWait.TotalSeconds * time.TimestampFrequency);
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            var got = await client.GetAsync(keys.Result(id), ct).ConfigureAwait(false);
            if (got.Kvs.FirstOrDefault() is { } kv)
            {
                return ReadResult(kv);
            }

            var left = TimeSpan.FromSeconds((deadline - time.GetTimestamp()) / (double)time.TimestampFrequency);
            if (left <= TimeSpan.Zero)
            {
                if (await TryCancelAsync(id, ct).ConfigureAwait(false) is { } cancelled)
                {
                    return cancelled;
                }

                // Claimed (running) or a leader exists and is busy: wait another period.
                deadline = time.GetTimestamp() + (long)(leaderWait.TotalSeconds * time.TimestampFrequency);
                continue;
            }

            // Wait for the result key to appear, at most until the deadline.
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
            wait.CancelAfter(left);
            try
            {
                await foreach (var _ in EtcdWatcher.WatchPrefixAsync(client, keys.Result(id), got.Header.Revision + 1, time, wait.Token).ConfigureAwait(false))
                {
                    break;
                }
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                // Deadline: look again, then decide.
            }
            catch (EtcdCompactedException)
            {
                // Look again.
            }
        }
    }

    /// <summary>Cancels an operation nobody claimed while no leader exists; null when it must keep waiting.</summary>
    private async Task<OperationResult?> TryCancelAsync(string id, CancellationToken ct)
    {
        string? leader;
        try
        {
            leader = await coordinator.LeaderAsync(ct).ConfigureAwait(false);
        }
        catch (EtcdException)
        {
            leader = null;
        }

        if (leader is not null)
        {
            return null;
        }

        var result = new OperationResult(id, OperationStatus.Cancelled,
            $"no coordinator was elected to take operation '{id}' in time; it was cancelled and will not run. Check 'vgmesh cluster status' and submit it again.",
            null, host, 0, time.GetUtcNow());
        var txn = new TxnRequest
        {
            Compare = [Compare.Absent(keys.Claim(id)), Compare.Absent(keys.Result(id))],
            Success = [RequestOp.Put(keys.Result(id), JsonSerializer.SerializeToUtf8Bytes(result, CoordinationJsonContext.Default.OperationResult))],
            Failure = [RequestOp.Get(keys.Result(id))],
        };
        var r = await client.TxnAsync(txn, ct).ConfigureAwait(false);
        if (r.Succeeded)
        {
            return result with { Revision = r.Header.Revision };
        }

        var existing = r.Responses[0].ResponseRange?.Kvs.FirstOrDefault();
        return existing is null ? null : ReadResult(existing);
    }

    private static OperationResult ReadResult(KeyValue kv) =>
        JsonSerializer.Deserialize(kv.Value, CoordinationJsonContext.Default.OperationResult)! with { Revision = kv.ModRevision };

    public async IAsyncEnumerable<QueuedOperation> PendingAsync([EnumeratorCancellation] CancellationToken ct = default)
    {
        // What is queued now, in submission order, less what has a result.
        var ops = await client.GetPrefixAsync(keys.OpsPrefix, ct: ct).ConfigureAwait(false);
        var done = await KeyNamesAsync(keys.ResultsPrefix, ct).ConfigureAwait(false);
        var claimed = await KeyNamesAsync(keys.ClaimsPrefix, ct).ConfigureAwait(false);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var kv in ops.Kvs)
        {
            var id = ClusterKeys.Name(kv.Key, keys.OpsPrefix);
            seen.Add(id);
            if (!done.Contains(id))
            {
                yield return Queued(kv, recovered: claimed.Contains(id));
            }
        }

        await foreach (var r in EtcdWatcher.WatchPrefixAsync(client, keys.OpsPrefix, ops.Header.Revision + 1, time, ct).ConfigureAwait(false))
        {
            foreach (var ev in r.Events)
            {
                var id = ClusterKeys.Name(ev.Kv.Key, keys.OpsPrefix);
                if (ev.Type != "DELETE" && seen.Add(id))
                {
                    yield return Queued(ev.Kv, recovered: false);
                }
            }
        }
    }

    private static QueuedOperation Queued(KeyValue kv, bool recovered)
    {
        var record = JsonSerializer.Deserialize(kv.Value, CoordinationJsonContext.Default.OperationRecord)!;
        return new QueuedOperation(record.Request, kv.CreateRevision, record.SubmittedAt, recovered);
    }

    private async Task<HashSet<string>> KeyNamesAsync(byte[] prefix, CancellationToken ct)
    {
        var r = await client.RangeAsync(new RangeRequest { Key = prefix, RangeEnd = Keys.PrefixEnd(prefix), KeysOnly = true }, ct).ConfigureAwait(false);
        return r.Kvs.Select(kv => ClusterKeys.Name(kv.Key, prefix)).ToHashSet(StringComparer.Ordinal);
    }

    public async Task<bool> ClaimAsync(string id, CancellationToken ct = default)
    {
        OperationIds.Validate(id);
        var claim = new ClaimRecord(host, coordinator.FencingToken, time.GetUtcNow());
        var r = await coordinator.FencedTxnAsync(
            [Compare.Absent(keys.Result(id))],
            [RequestOp.Put(keys.Claim(id), JsonSerializer.SerializeToUtf8Bytes(claim, CoordinationJsonContext.Default.ClaimRecord))],
            ct).ConfigureAwait(false);
        return r.Succeeded;
    }

    public async Task<long> CompleteAsync(OperationResult result, IReadOnlyList<ClusterEvent> events, IReadOnlyList<CatalogWrite>? catalog = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(result);
        ArgumentNullException.ThrowIfNull(events);
        var stamped = result with { FencingToken = coordinator.FencingToken };
        var writes = (catalog ?? []).Select(w => w.Value is null ? RequestOp.Delete(keys.Catalog(w.Key)) : RequestOp.Put(keys.Catalog(w.Key), Keys.Of(w.Value)));
        var r = await coordinator.FencedTxnAsync(
            [Compare.Absent(keys.Result(result.Id))],
            [RequestOp.Put(keys.Result(result.Id), JsonSerializer.SerializeToUtf8Bytes(stamped, CoordinationJsonContext.Default.OperationResult)), .. eventLog.Puts(events), .. writes],
            ct).ConfigureAwait(false);
        if (!r.Succeeded)
        {
            throw new InvalidOperationException($"operation '{result.Id}' already has a result; a second one was not written.");
        }

        return r.Header.Revision;
    }

    public async Task<int> PruneAsync(DateTimeOffset completedBefore, CancellationToken ct = default)
    {
        // Results are written once, in completion order: oldest first by revision. 40 operations of
        // three keys each stay within etcd's default of 128 operations per transaction.
        var pruned = 0;
        while (true)
        {
            var page = await client.RangeAsync(new RangeRequest { Key = keys.ResultsPrefix, RangeEnd = Keys.PrefixEnd(keys.ResultsPrefix), SortTarget = "MOD", SortOrder = "ASCEND", Limit = 40 }, ct).ConfigureAwait(false);
            var old = page.Kvs.TakeWhile(kv => ReadResult(kv).CompletedAt < completedBefore).Select(kv => ClusterKeys.Name(kv.Key, keys.ResultsPrefix)).ToList();
            if (old.Count == 0)
            {
                return pruned;
            }

            await coordinator.FencedTxnAsync([], [.. old.SelectMany(id => new[] { RequestOp.Delete(keys.Op(id)), RequestOp.Delete(keys.Claim(id)), RequestOp.Delete(keys.Result(id)) })], ct).ConfigureAwait(false);
            pruned += old.Count;
            if (old.Count < page.Kvs.Count || !page.More)
            {
                return pruned;
            }
        }
    }
}
