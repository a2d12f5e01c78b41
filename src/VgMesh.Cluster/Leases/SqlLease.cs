using Akka.Actor;
using Akka.Coordination;
using Akka.Event;

namespace VgMesh.Cluster.Leases;

/// <summary>
/// An Akka lease held as a row in the journal's database (<see cref="ILeaseStore"/>: PostgreSQL
/// for a cluster, SQLite for one host): what the coordinator
/// singleton must hold to run (<c>akka.cluster.singleton.use-lease</c>). Each acquisition has a
/// generation, the fencing token. The time left is measured on this host's clock from the moment
/// the last successful renewal was <em>sent</em>, so it never outlasts the row in the database;
/// the lease counts as lost once less than <c>safety-margin</c> is left, which is when the
/// lease-lost callback fires, before another owner can take the row.
/// </summary>
/// <remarks>
/// The owner written to the row is the owner Akka names (the node's host:port) plus an
/// incarnation id: a node restarted on the same address is a new owner and gets a new
/// generation, so a frozen old process cannot pass for the new one.
/// </remarks>
public sealed class SqlLease : Lease
{
    private readonly ILeaseStore _store;
    private readonly TimeProvider _time;
    private readonly ILoggingAdapter _log;
    private readonly TimeSpan _ttl;
    private readonly TimeSpan _interval;
    private readonly TimeSpan _operationTimeout;
    private readonly TimeSpan _margin;
    private readonly Lock _gate = new();
    private Acquisition? _current;
    private bool _initialized;
    private long _refusedAt; // timestamp of the last acquisition refused or unanswered; 0: none since the last success
    private volatile bool _lostLast;
    private Action<Exception>? _onLost; // the singleton manager's callback, from its last acquisition

    public SqlLease(LeaseSettings settings, ExtendedActorSystem system)
        : base(settings)
    {
        var config = settings.LeaseConfig;
        var env = LeaseEnvironment.Get(system);
        var connectionString = config.GetString("connection-string", null);
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            throw new ArgumentException($"lease '{settings.LeaseName}': connection-string is not set; set the journal database's connection string in the cluster settings.");
        }

        _store = env.Store(config.GetString("provider", "postgresql"), connectionString);
        _time = env.Time;
        _log = Logging.GetLogger(system, "vgmesh.lease");
        _ttl = settings.TimeoutSettings.HeartbeatTimeout;
        _interval = settings.TimeoutSettings.HeartbeatInterval;
        _operationTimeout = settings.TimeoutSettings.OperationTimeout;
        _margin = config.GetTimeSpan("safety-margin", TimeSpan.FromTicks(_ttl.Ticks / 3), allowInfinite: false);
        if (_margin >= _ttl - _interval)
        {
            throw new ArgumentException($"lease '{settings.LeaseName}': safety-margin {_margin} leaves no time between renewals within heartbeat-timeout {_ttl}; make it smaller than heartbeat-timeout minus heartbeat-interval.");
        }

        Owner = $"{settings.OwnerName}#{Guid.NewGuid():N}";

        // The lease outlives the singleton's actors; it must not outlive the ActorSystem, or a
        // stopped node would go on renewing a lease no coordinator of its own uses.
        system.RegisterOnTermination(() => Volatile.Read(ref _current)?.Stop("the actor system terminated", notify: false));
    }

    /// <summary>The owner as written in the database row.</summary>
    public string Owner { get; }

    public TimeSpan SafetyMargin => _margin;

    /// <summary>The lease's row as the database has it now: who holds it, its generation and its time left (any host may read it).</summary>
    public Task<LeaseRow?> ReadRowAsync(CancellationToken ct) => _store.ReadAsync(Settings.LeaseName, ct);

    /// <summary>The acquisition held now, or null.</summary>
    public ILeaseGuard? Current
    {
        get
        {
            var a = Volatile.Read(ref _current);
            return a is { IsHeld: true } ? a : null;
        }
    }

    /// <summary>
    /// This node's part in the lease now. Acquiring means an acquisition was refused within two
    /// heartbeat timeouts (the singleton retries while this node is the oldest); after that, with
    /// no new try, the node no longer wants it.
    /// </summary>
    public LeaseState State
    {
        get
        {
            if (Current is not null)
            {
                return LeaseState.Held;
            }

            var refused = Interlocked.Read(ref _refusedAt);
            return refused != 0 && _time.GetElapsedTime(refused) < _ttl * 2 ? LeaseState.Acquiring
                : _lostLast ? LeaseState.Lost : LeaseState.None;
        }
    }

    public override Task<bool> Acquire() => Acquire(null!);

    public override async Task<bool> Acquire(Action<Exception> leaseLostCallback)
    {
        var sentAt = _time.GetTimestamp();
        long? generation;
        using (var cts = new CancellationTokenSource(_operationTimeout, _time))
        {
            try
            {
                if (!_initialized)
                {
                    await _store.InitializeAsync(cts.Token).ConfigureAwait(false);
                    _initialized = true;
                }

                generation = await _store.TryAcquireAsync(Settings.LeaseName, Owner, _ttl, cts.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is System.Data.Common.DbException or OperationCanceledException or TimeoutException)
            {
                // Unknown outcome: the row may now be ours. It runs out on its own, and a retry
                // by this same owner takes it again with a new generation.
                Interlocked.Exchange(ref _refusedAt, _time.GetTimestamp());
                throw new LeaseException($"lease '{Settings.LeaseName}': the database did not answer the acquisition: {e.Message}");
            }
        }

        if (generation is not { } g)
        {
            Interlocked.Exchange(ref _refusedAt, _time.GetTimestamp());
            return false;
        }

        var acquisition = new Acquisition(this, g, sentAt, leaseLostCallback);
        Volatile.Write(ref _onLost, leaseLostCallback);
        if (acquisition.TimeLeft <= _margin)
        {
            // The answer came too late to use (a host starved of CPU, a slow database): the row
            // is ours, but with less than the margin left. Akka's singleton manager ignores a
            // lease-lost callback while its acquisition is still in flight and would start the
            // coordinator on a lease already gone; refusing lets it retry, and the retry by this
            // same owner takes the row again with a new generation.
            Interlocked.Exchange(ref _refusedAt, _time.GetTimestamp());
            acquisition.Stop("acquired too late to use", notify: false);
            _log.Warning("lease {0} generation {1}: acquired with {2:0} ms left, less than the safety margin ({3:0} ms); retrying", Settings.LeaseName, g, acquisition.TimeLeft.TotalMilliseconds, _margin.TotalMilliseconds);
            return false;
        }

        Interlocked.Exchange(ref _refusedAt, 0);
        _lostLast = false;

        Acquisition? previous;
        lock (_gate)
        {
            previous = _current;
            _current = acquisition;
        }

        previous?.Stop("superseded by a new acquisition", notify: false);
        _log.Info("lease {0} acquired by {1}: generation {2}, ttl {3}", Settings.LeaseName, Owner, g, _ttl);
        acquisition.Start();
        return true;
    }

    public override async Task<bool> Release()
    {
        Acquisition? a;
        lock (_gate)
        {
            a = _current;
            _current = null;
        }

        _lostLast = false;
        if (a is null)
        {
            return true;
        }

        a.Stop("released", notify: false);
        using var cts = new CancellationTokenSource(_operationTimeout, _time);
        try
        {
            await _store.ReleaseAsync(Settings.LeaseName, Owner, a.Generation, cts.Token).ConfigureAwait(false);
            _log.Info("lease {0} generation {1} released", Settings.LeaseName, a.Generation);
            return true;
        }
        catch (Exception e) when (e is System.Data.Common.DbException or OperationCanceledException or TimeoutException)
        {
            // It runs out on its own after heartbeat-timeout.
            _log.Warning("lease {0} generation {1}: release not confirmed ({2}); it runs out within {3}", Settings.LeaseName, a.Generation, e.Message, _ttl);
            return false;
        }
    }

    public override bool CheckLease() => Current is not null;

    /// <summary>
    /// Tells the singleton manager, through its lease-lost callback, that the lease is not held,
    /// when it is not: for a coordinator started without it. That happens when the lease is lost
    /// between its acquisition and the manager reading the result; the manager drops the first
    /// callback then (it is not yet in its oldest state) and would never acquire again. Given
    /// again now, it stops the coordinator and acquires anew.
    /// </summary>
    public void NotifyIfNotHeld(string reason)
    {
        if (Current is null && Volatile.Read(ref _onLost) is { } onLost)
        {
            _log.Warning("lease {0}: not held while {1}; asking the singleton manager to acquire it again", Settings.LeaseName, reason);
            onLost(new LeaseException($"lease '{Settings.LeaseName}' is not held: {reason}"));
        }
    }

    /// <summary>One acquisition: its generation, its renewals and its end.</summary>
    // Its token source is never disposed: writers hold the Lost token for as long as they keep
    // the guard, and a cancelled, undisposed source holds no timer or handle.
#pragma warning disable CA1001
    private sealed class Acquisition(SqlLease lease, long generation, long sentAt, Action<Exception>? onLost) : ILeaseGuard
    {
        private readonly CancellationTokenSource _lost = new();
        private long _renewedSentAt = sentAt;
        private int _ended;
        private string? _reason;
        private ITimer? _deadline;

        public long Generation { get; } = generation;

        public string Owner => lease.Owner;

        public CancellationToken Lost => _lost.Token;

        public TimeSpan TimeLeft
        {
            get
            {
                if (Volatile.Read(ref _ended) != 0)
                {
                    return TimeSpan.Zero;
                }

                var left = lease._ttl - lease._time.GetElapsedTime(Interlocked.Read(ref _renewedSentAt));
                return left > TimeSpan.Zero ? left : TimeSpan.Zero;
            }
        }

        public bool IsHeld
        {
            get
            {
                if (TimeLeft > lease._margin)
                {
                    return true;
                }

                // Checked on demand too, so a late heartbeat loop never lets a stale lease pass.
                Stop($"less than the safety margin ({lease._margin.TotalMilliseconds:0} ms) left without a renewal", notify: true);
                return false;
            }
        }

        public void EnsureHeld()
        {
            if (!IsHeld)
            {
                throw new LeaseLostException(lease.Settings.LeaseName, Generation, _reason ?? "lost");
            }
        }

        public void Start()
        {
            // The deadline does not wait for the heartbeat loop: a renewal stuck on a database
            // that stopped answering must not keep the lease counted as held.
            _deadline = lease._time.CreateTimer(_ => _ = IsHeld, null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            ArmDeadline();
            _ = Task.Run(HeartbeatAsync);
        }

        private void ArmDeadline()
        {
            var due = TimeLeft - lease._margin;
            _deadline?.Change(due > TimeSpan.Zero ? due : TimeSpan.Zero, Timeout.InfiniteTimeSpan);
        }

        public void Stop(string reason, bool notify)
        {
            if (Interlocked.Exchange(ref _ended, 1) != 0)
            {
                return;
            }

            _reason = reason;
            _deadline?.Dispose();
            _lost.Cancel();
            if (notify)
            {
                lease._lostLast = true;
                lease._log.Warning("lease {0} generation {1} lost: {2}", lease.Settings.LeaseName, Generation, reason);
                onLost?.Invoke(new LeaseException($"lease '{lease.Settings.LeaseName}' generation {Generation} lost: {reason}"));
            }
        }

        private async Task HeartbeatAsync()
        {
            while (!_lost.IsCancellationRequested)
            {
                var untilDeadline = TimeLeft - lease._margin;
                var wait = untilDeadline < lease._interval ? untilDeadline : lease._interval;
                try
                {
                    if (wait > TimeSpan.Zero)
                    {
                        await Task.Delay(wait, lease._time, _lost.Token).ConfigureAwait(false);
                    }
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                if (!IsHeld)
                {
                    return;
                }

                var sent = lease._time.GetTimestamp();
                var budget = TimeLeft - lease._margin;
                if (budget > lease._operationTimeout)
                {
                    budget = lease._operationTimeout;
                }

                using var cts = CancellationTokenSource.CreateLinkedTokenSource(_lost.Token);
                cts.CancelAfter(budget > TimeSpan.Zero ? budget : TimeSpan.FromMilliseconds(1));
                bool renewed;
                try
                {
                    // Npgsql's cancellation waits on the server too (a cancel request, then a
                    // broken connection after its own timeout); the race keeps each attempt in budget.
                    var renewal = lease._store.RenewAsync(lease.Settings.LeaseName, lease.Owner, Generation, lease._ttl, cts.Token);
                    renewed = await renewal.WaitAsync(cts.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is System.Data.Common.DbException or OperationCanceledException or TimeoutException)
                {
                    if (_lost.IsCancellationRequested)
                    {
                        return;
                    }

                    lease._log.Warning("lease {0} generation {1}: renewal failed ({2}); {3:0} ms left", lease.Settings.LeaseName, Generation, e.Message, TimeLeft.TotalMilliseconds);
                    continue;
                }

                if (!renewed)
                {
                    Stop("the database no longer shows this owner and generation (it ran out or was taken)", notify: true);
                    return;
                }

                Interlocked.Exchange(ref _renewedSentAt, sent);
                ArmDeadline();
            }
        }
    }
#pragma warning restore CA1001
}
