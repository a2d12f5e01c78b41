using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace VgMesh.Coordination.SingleHost;

/// <summary>
/// The cluster of one: the same interfaces as etcd's, in-process, persisted in SQLite. This host
/// always leads, under a fencing token that grows with every start. An exclusive lock on
/// <c>STATE.lock</c> keeps a second agent on the same host from opening it (it would lead too).
/// Like etcd, every write transaction gets the next revision; events carry their revision.
/// </summary>
public sealed class SingleHostNode : IClusterNode, ICoordinator, IMembership, IEventLog, IOperationQueue, ISession, ICatalog
{
    private readonly string _path;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _write = new(1, 1);
    private readonly CancellationTokenSource _stopped = new();
    private SqliteConnection? _db;
    private FileStream? _lock;
    private MemberInfo? _self;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _epoch;

    static SingleHostNode() => SQLitePCL.Batteries.Init();

    public SingleHostNode(string databasePath, string host, TimeProvider time)
    {
        ArgumentException.ThrowIfNullOrEmpty(databasePath);
        _path = databasePath;
        Host = host;
        _time = time;
    }

    public string Host { get; }

    public ISession Session => this;

    /// <summary>One host: there is no one to give its LVs to.</summary>
    public void KeepAfterStop()
    {
    }

    public IMembership Members => this;

    public ICoordinator Coordinator => this;

    public IEventLog Events => this;

    public IOperationQueue Operations => this;

    public ICatalog Catalog => this;

    public async Task StartAsync(MemberInfo self, CancellationToken ct = default)
    {
        _self = self;
        try
        {
            _lock = new FileStream(_path + ".lock", FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e)
        {
            throw new InvalidOperationException($"'{_path}' is in use by another vgmesh agent on this host; stop it first (two agents would both act as coordinator).", e);
        }

        _db = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = _path, Pooling = false }.ToString());
        await _db.OpenAsync(ct).ConfigureAwait(false);
        await ExecAsync("""
            PRAGMA journal_mode=WAL;
            PRAGMA synchronous=FULL;
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
            INSERT OR IGNORE INTO meta VALUES ('revision', 0), ('epoch', 0);
            CREATE TABLE IF NOT EXISTS events (revision INTEGER NOT NULL, idx INTEGER NOT NULL, json TEXT NOT NULL, PRIMARY KEY (revision, idx));
            CREATE TABLE IF NOT EXISTS applied (host TEXT PRIMARY KEY, json TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS ops (id TEXT PRIMARY KEY, seq INTEGER NOT NULL, json TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS claims (id TEXT PRIMARY KEY, json TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS results (id TEXT PRIMARY KEY, json TEXT NOT NULL, revision INTEGER NOT NULL DEFAULT 0);
            CREATE TABLE IF NOT EXISTS catalog (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            """, ct).ConfigureAwait(false);
        _epoch = await WriteAsync((tx, _) => Scalar(tx, "UPDATE meta SET value = value + 1 WHERE key = 'epoch' RETURNING value"), ct).ConfigureAwait(false);
        Changed?.Invoke(this, new LeadershipChange(LeadershipState.Leader, _epoch, "single host: always the coordinator"));
    }

    // ---------------------------------------------------------------- session, membership, leadership

    public long Id => 0;

    public TimeSpan Ttl => Timeout.InfiniteTimeSpan;

    public TimeSpan TimeLeft => _stopped.IsCancellationRequested ? TimeSpan.Zero : TimeSpan.MaxValue;

    public CancellationToken Lost => _stopped.Token;

    public Task<IReadOnlyList<MemberInfo>> ListAsync(CancellationToken ct = default) =>
        Task.FromResult<IReadOnlyList<MemberInfo>>(_self is null ? [] : [_self]);

    public async IAsyncEnumerable<MembershipChange> WatchAsync([EnumeratorCancellation] CancellationToken ct = default)
    {
        await Task.Delay(Timeout.Infinite, ct).ConfigureAwait(false);
        yield break;
    }

    public LeadershipState State => _db is null || _stopped.IsCancellationRequested ? LeadershipState.Follower : LeadershipState.Leader;

    public long FencingToken => _epoch;

    public CancellationToken LeaderToken => _stopped.Token;

    public event EventHandler<LeadershipChange>? Changed;

    public Task<string?> LeaderAsync(CancellationToken ct = default) => Task.FromResult<string?>(State == LeadershipState.Leader ? Host : null);

    public Task<LeaderLease?> LeaderLeaseAsync(CancellationToken ct = default) =>
        Task.FromResult(State == LeadershipState.Leader ? new LeaderLease(Host, _epoch, Timeout.InfiniteTimeSpan) : null);

    public void EnsureLeader(TimeSpan minimumLeaseLeft)
    {
        if (State != LeadershipState.Leader)
        {
            throw new NotLeaderException(null, "the single-host backend is not started");
        }
    }

    public Task WaitForLeadershipAsync(CancellationToken ct = default) =>
        State == LeadershipState.Leader ? Task.CompletedTask : Task.Delay(Timeout.Infinite, ct);

    // ---------------------------------------------------------------- events

    public Task<long> AppendAsync(IReadOnlyList<ClusterEvent> events, CancellationToken ct = default) =>
        WriteAsync((tx, rev) => { InsertEvents(tx, rev, events); return rev; }, ct);

    private static void InsertEvents(SqliteTransaction tx, long revision, IReadOnlyList<ClusterEvent> events)
    {
        for (var i = 0; i < events.Count; i++)
        {
            Exec(tx, "INSERT INTO events VALUES ($r, $i, $j)", ("$r", revision), ("$i", i), ("$j", JsonSerializer.Serialize(events[i], CoordinationJsonContext.Default.ClusterEvent)));
        }
    }

    public async IAsyncEnumerable<EventBatch> SubscribeAsync(long afterRevision, [EnumeratorCancellation] CancellationToken ct = default)
    {
        var last = afterRevision;
        while (true)
        {
            var wake = WaitForChangeAsync(ct);
            var rows = await QueryAsync("SELECT revision, json FROM events WHERE revision > $r ORDER BY revision, idx", [("$r", last)], r => (Rev: r.GetInt64(0), Json: r.GetString(1)), ct).ConfigureAwait(false);
            foreach (var g in rows.GroupBy(r => r.Rev))
            {
                last = g.Key;
                yield return new EventBatch(g.Key, g.Select(r => JsonSerializer.Deserialize(r.Json, CoordinationJsonContext.Default.ClusterEvent)!).ToList());
            }

            await wake.ConfigureAwait(false);
        }
    }

    public Task AcknowledgeAsync(long revision, CancellationToken ct = default) =>
        WriteAsync((tx, _) => Exec(tx, "INSERT OR REPLACE INTO applied VALUES ($h, $j)", ("$h", Host), ("$j", JsonSerializer.Serialize(new AppliedMark(revision, _time.GetUtcNow()), CoordinationJsonContext.Default.AppliedMark))), ct);

    public async Task<IReadOnlyList<HostProgress>> ProgressAsync(CancellationToken ct = default)
    {
        var progress = new List<HostProgress>();
        foreach (var (host, mark) in await MarksAsync(ct).ConfigureAwait(false))
        {
            var pending = await QueryAsync("SELECT json FROM events WHERE revision > $r ORDER BY revision, idx", [("$r", mark.Revision)], r => r.GetString(0), ct).ConfigureAwait(false);
            var lag = pending.Count == 0 ? TimeSpan.Zero : _time.GetUtcNow() - JsonSerializer.Deserialize(pending[0], CoordinationJsonContext.Default.ClusterEvent)!.Time;
            progress.Add(new HostProgress(host, mark.Revision, mark.At, pending.Count, lag < TimeSpan.Zero ? TimeSpan.Zero : lag));
        }

        return progress;
    }

    public async Task<IReadOnlyDictionary<string, long>> AppliedAsync(CancellationToken ct = default) =>
        (await MarksAsync(ct).ConfigureAwait(false)).ToDictionary(m => m.Host, m => m.Mark.Revision, StringComparer.Ordinal);

    public async IAsyncEnumerable<IReadOnlyDictionary<string, long>> WatchAppliedAsync([EnumeratorCancellation] CancellationToken ct = default)
    {
        while (true)
        {
            var wake = WaitForChangeAsync(ct);
            yield return await AppliedAsync(ct).ConfigureAwait(false);
            await wake.ConfigureAwait(false);
        }
    }

    /// <summary>One host, always live: what it has applied bounds what is deleted.</summary>
    async Task<int> IEventLog.PruneAsync(DateTimeOffset before, CancellationToken ct)
    {
        var floor = (await AppliedAsync(ct).ConfigureAwait(false)).GetValueOrDefault(Host);
        var rows = await QueryAsync("SELECT revision, json FROM events WHERE revision <= $r ORDER BY revision, idx", [("$r", floor)], r => (Rev: r.GetInt64(0), Json: r.GetString(1)), ct).ConfigureAwait(false);
        var old = rows.TakeWhile(r => JsonSerializer.Deserialize(r.Json, CoordinationJsonContext.Default.ClusterEvent)!.Time < before).ToList();
        if (old.Count == 0)
        {
            return 0;
        }

        // Whole revisions only, up to the last one found old; a revision's events share one stamp.
        var through = old[^1].Rev;
        return await WriteAsync((tx, _) => Exec(tx, "DELETE FROM events WHERE revision <= $r", ("$r", through)), ct).ConfigureAwait(false);
    }

    private Task<List<(string Host, AppliedMark Mark)>> MarksAsync(CancellationToken ct) =>
        QueryAsync("SELECT host, json FROM applied ORDER BY host", [], r => (r.GetString(0), JsonSerializer.Deserialize(r.GetString(1), CoordinationJsonContext.Default.AppliedMark)!), ct);

    // ---------------------------------------------------------------- operation queue

    public async Task<QueuedOperation> SubmitAsync(OperationRequest request, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        OperationIds.Validate(request.Id);
        var record = new OperationRecord(request, _time.GetUtcNow());
        var (seq, json) = await WriteAsync((tx, rev) =>
        {
            Exec(tx, "INSERT OR IGNORE INTO ops VALUES ($id, $s, $j)", ("$id", request.Id), ("$s", rev), ("$j", JsonSerializer.Serialize(record, CoordinationJsonContext.Default.OperationRecord)));
            using var q = Command(tx, "SELECT seq, json FROM ops WHERE id = $id", ("$id", request.Id));
            using var r = q.ExecuteReader();
            r.Read();
            return (r.GetInt64(0), r.GetString(1));
        }, ct).ConfigureAwait(false);
        var stored = JsonSerializer.Deserialize(json, CoordinationJsonContext.Default.OperationRecord)!;
        if (stored.Request.Kind != request.Kind || stored.Request.Payload != request.Payload)
        {
            throw new OperationConflictException(request.Id);
        }

        return new QueuedOperation(stored.Request, seq, stored.SubmittedAt, false);
    }

    public async Task<long> DepthAsync(CancellationToken ct = default) =>
        (await QueryAsync("SELECT count(*) FROM ops o LEFT JOIN results r ON r.id = o.id WHERE r.id IS NULL", [], r => r.GetInt64(0), ct).ConfigureAwait(false)).Single();

    public async Task<OperationResult?> GetResultAsync(string id, CancellationToken ct = default)
    {
        var rows = await QueryAsync("SELECT json, revision FROM results WHERE id = $id", [("$id", OperationIds.Validate(id))], r => (Json: r.GetString(0), Rev: r.GetInt64(1)), ct).ConfigureAwait(false);
        return rows.Count == 0 ? null : JsonSerializer.Deserialize(rows[0].Json, CoordinationJsonContext.Default.OperationResult)! with { Revision = rows[0].Rev };
    }

    /// <summary>This host always leads while started, so the bound never cancels an operation here.</summary>
    public async Task<OperationResult> WaitAsync(string id, TimeSpan leaderWait, CancellationToken ct = default)
    {
        while (true)
        {
            var wake = WaitForChangeAsync(ct);
            if (await GetResultAsync(id, ct).ConfigureAwait(false) is { } result)
            {
                return result;
            }

            await wake.ConfigureAwait(false);
        }
    }

    public async IAsyncEnumerable<QueuedOperation> PendingAsync([EnumeratorCancellation] CancellationToken ct = default)
    {
        var last = 0L;
        while (true)
        {
            var wake = WaitForChangeAsync(ct);
            var rows = await QueryAsync(
                "SELECT o.seq, o.json, c.id IS NOT NULL FROM ops o LEFT JOIN results r ON r.id = o.id LEFT JOIN claims c ON c.id = o.id WHERE r.id IS NULL AND o.seq > $s ORDER BY o.seq",
                [("$s", last)], r => (Seq: r.GetInt64(0), Json: r.GetString(1), Claimed: r.GetBoolean(2)), ct).ConfigureAwait(false);
            foreach (var row in rows)
            {
                last = row.Seq;
                var rec = JsonSerializer.Deserialize(row.Json, CoordinationJsonContext.Default.OperationRecord)!;
                yield return new QueuedOperation(rec.Request, row.Seq, rec.SubmittedAt, row.Claimed);
            }

            await wake.ConfigureAwait(false);
        }
    }

    public Task<bool> ClaimAsync(string id, CancellationToken ct = default) =>
        WriteAsync((tx, _) =>
        {
            if (Scalar(tx, "SELECT count(*) FROM results WHERE id = $id", ("$id", id)) > 0)
            {
                return false;
            }

            Exec(tx, "INSERT OR REPLACE INTO claims VALUES ($id, $j)", ("$id", id), ("$j", JsonSerializer.Serialize(new ClaimRecord(Host, _epoch, _time.GetUtcNow()), CoordinationJsonContext.Default.ClaimRecord)));
            return true;
        }, ct);

    public Task<long> CompleteAsync(OperationResult result, IReadOnlyList<ClusterEvent> events, IReadOnlyList<CatalogWrite>? catalog = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(result);
        ArgumentNullException.ThrowIfNull(events);
        return WriteAsync((tx, rev) =>
        {
            var stamped = result with { FencingToken = _epoch };
            if (Exec(tx, "INSERT OR IGNORE INTO results VALUES ($id, $j, $r)", ("$id", result.Id), ("$j", JsonSerializer.Serialize(stamped, CoordinationJsonContext.Default.OperationResult)), ("$r", rev)) == 0)
            {
                throw new InvalidOperationException($"operation '{result.Id}' already has a result; a second one was not written.");
            }

            InsertEvents(tx, rev, events);
            foreach (var w in catalog ?? [])
            {
                if (w.Value is null)
                {
                    Exec(tx, "DELETE FROM catalog WHERE key = $k", ("$k", w.Key));
                }
                else
                {
                    Exec(tx, "INSERT OR REPLACE INTO catalog VALUES ($k, $v)", ("$k", w.Key), ("$v", w.Value));
                }
            }

            return rev;
        }, ct);
    }

    async Task<int> IOperationQueue.PruneAsync(DateTimeOffset completedBefore, CancellationToken ct)
    {
        var rows = await QueryAsync("SELECT id, json FROM results ORDER BY revision", [], r => (Id: r.GetString(0), Json: r.GetString(1)), ct).ConfigureAwait(false);
        var old = rows.TakeWhile(r => JsonSerializer.Deserialize(r.Json, CoordinationJsonContext.Default.OperationResult)!.CompletedAt < completedBefore).Select(r => r.Id).ToList();
        if (old.Count == 0)
        {
            return 0;
        }

        return await WriteAsync((tx, _) =>
        {
            foreach (var id in old)
            {
                Exec(tx, "DELETE FROM ops WHERE id = $id", ("$id", id));
                Exec(tx, "DELETE FROM claims WHERE id = $id", ("$id", id));
                Exec(tx, "DELETE FROM results WHERE id = $id", ("$id", id));
            }

            return old.Count;
        }, ct).ConfigureAwait(false);
    }

    // ---------------------------------------------------------------- catalog

    public async Task<string?> GetAsync(string key, CancellationToken ct = default) =>
        (await QueryAsync("SELECT value FROM catalog WHERE key = $k", [("$k", key)], r => r.GetString(0), ct).ConfigureAwait(false)).FirstOrDefault();

    public async Task<IReadOnlyDictionary<string, string>> ListAsync(string prefix, CancellationToken ct = default) =>
        (await QueryAsync("SELECT key, value FROM catalog WHERE substr(key, 1, length($p)) = $p", [("$p", prefix)], r => (K: r.GetString(0), V: r.GetString(1)), ct).ConfigureAwait(false))
            .ToDictionary(x => x.K[prefix.Length..], x => x.V, StringComparer.Ordinal);

    /// <summary>One host: its own keys live as long as the process (the table is cleared at start).</summary>
    /// <summary>One host: no other host's keys change under it.</summary>
    public async IAsyncEnumerable<KeyValuePair<string, string?>> WatchAsync(string prefix, [EnumeratorCancellation] CancellationToken ct = default)
    {
        await Task.Delay(Timeout.Infinite, ct).ConfigureAwait(false);
        yield break;
    }

    public Task PublishOwnAsync(string key, string value, CancellationToken ct = default) =>
        WriteAsync((tx, _) => Exec(tx, "INSERT OR REPLACE INTO catalog VALUES ($k, $v)", ("$k", key), ("$v", value)), ct);

    // ---------------------------------------------------------------- storage

    /// <summary>One write transaction at the next revision; wakes every waiter after commit.</summary>
    private async Task<T> WriteAsync<T>(Func<SqliteTransaction, long, T> body, CancellationToken ct)
    {
        var db = _db ?? throw new InvalidOperationException("the single-host backend is not started");
        await _write.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            using var tx = db.BeginTransaction();
            var rev = Scalar(tx, "UPDATE meta SET value = value + 1 WHERE key = 'revision' RETURNING value");
            var result = body(tx, rev);
            tx.Commit();
            Interlocked.Exchange(ref _changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
            return result;
        }
        finally
        {
            _write.Release();
        }
    }

    private Task<int> WriteAsync(Action<SqliteTransaction, long> body, CancellationToken ct) =>
        WriteAsync((tx, rev) => { body(tx, rev); return 0; }, ct);

    private Task WaitForChangeAsync(CancellationToken ct) => Volatile.Read(ref _changed).Task.WaitAsync(TimeSpan.FromSeconds(5), _time, ct).ContinueWith(t => ct.ThrowIfCancellationRequested(), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);

    private async Task<List<T>> QueryAsync<T>(string sql, (string Name, object Value)[] args, Func<SqliteDataReader, T> map, CancellationToken ct)
    {
        await _write.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            using var cmd = _db!.CreateCommand();
            cmd.CommandText = sql;
            foreach (var (n, v) in args)
            {
                cmd.Parameters.AddWithValue(n, v);
            }

            using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
            var list = new List<T>();
            while (await r.ReadAsync(ct).ConfigureAwait(false))
            {
                list.Add(map(r));
            }

            return list;
        }
        finally
        {
            _write.Release();
        }
    }

    private async Task ExecAsync(string sql, CancellationToken ct)
    {
        using var cmd = _db!.CreateCommand();
        cmd.CommandText = sql;
        await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }

    private static SqliteCommand Command(SqliteTransaction tx, string sql, params (string Name, object Value)[] args)
    {
        var cmd = tx.Connection!.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        foreach (var (n, v) in args)
        {
            cmd.Parameters.AddWithValue(n, v);
        }

        return cmd;
    }

    private static int Exec(SqliteTransaction tx, string sql, params (string Name, object Value)[] args)
    {
        using var cmd = Command(tx, sql, args);
        return cmd.ExecuteNonQuery();
    }

    private static long Scalar(SqliteTransaction tx, string sql, params (string Name, object Value)[] args)
    {
        using var cmd = Command(tx, sql, args);
        return Convert.ToInt64(cmd.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }

    public async ValueTask DisposeAsync()
    {
        await _stopped.CancelAsync().ConfigureAwait(false);
        if (_db is not null)
        {
            await _db.DisposeAsync().ConfigureAwait(false);
        }

        if (_lock is not null)
        {
            await _lock.DisposeAsync().ConfigureAwait(false);
        }

        _write.Dispose();
        _stopped.Dispose();
    }
}
