using Microsoft.Extensions.Logging;

namespace VgMesh.Coordination.Etcd;

/// <summary>
/// Leadership through etcd's election service. A state machine: Follower -> Campaigning ->
/// Leader; when the session is lost, leader work is stopped first (<see cref="LeaderToken"/>),
/// the state becomes Fenced, and a new campaign starts on the next session. The fencing token is
/// the leader key's create revision; <see cref="FencedTxnAsync"/> is the one path for leader writes.
/// </summary>
public sealed partial class EtcdCoordinator : ICoordinator, IDisposable
{
    private readonly EtcdClient _client;
    private readonly ClusterKeys _keys;
    private readonly string _host;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly Lock _notifyGate = new();
    private LeadershipState _state = LeadershipState.Follower;
    private LeaderKey? _leaderKey;
    private CancellationTokenSource _leaderCts = new();
    private TaskCompletionSource _leading = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Func<ISession?> _session = () => null;

    public EtcdCoordinator(EtcdClient client, ClusterKeys keys, string host, ILogger logger)
    {
        _client = client;
        _keys = keys;
        _host = host;
        _logger = logger;
        _leaderCts.Cancel();
    }

    public LeadershipState State
    {
        get
        {
            lock (_gate)
            {
                return _state;
            }
        }
    }

    public long FencingToken
    {
        get
        {
            lock (_gate)
            {
                return _leaderKey?.Rev ?? 0;
            }
        }
    }

    public CancellationToken LeaderToken
    {
        get
        {
            lock (_gate)
            {
                return _leaderCts.Token;
            }
        }
    }

    public event EventHandler<LeadershipChange>? Changed;

    public async Task<string?> LeaderAsync(CancellationToken ct = default)
    {
        var kv = await _client.LeaderAsync(_keys.Election, ct).ConfigureAwait(false);
        return kv is null ? null : Keys.Text(kv.Value);
    }

    public async Task<LeaderLease?> LeaderLeaseAsync(CancellationToken ct = default)
    {
        var kv = await _client.LeaderAsync(_keys.Election, ct).ConfigureAwait(false);
        if (kv is null)
        {
            return null;
        }

        // etcd reports whole seconds, rounded; one second less is what is certain.
        var ttl = await _client.LeaseTimeToLiveAsync(kv.Lease, ct).ConfigureAwait(false);
        return ttl.Ttl <= 1 ? null : new LeaderLease(Keys.Text(kv.Value), kv.CreateRevision, TimeSpan.FromSeconds(ttl.Ttl - 1));
    }

    public void EnsureLeader(TimeSpan minimumLeaseLeft)
    {
        lock (_gate)
        {
            var left = _session()?.TimeLeft ?? TimeSpan.Zero;
            if (_state != LeadershipState.Leader)
            {
                throw new NotLeaderException(null, $"state is {_state}");
            }

            if (left < minimumLeaseLeft)
            {
                throw new NotLeaderException(null, $"only {left.TotalMilliseconds:0} ms of session left, {minimumLeaseLeft.TotalMilliseconds:0} ms needed");
            }
        }
    }

    public Task WaitForLeadershipAsync(CancellationToken ct = default)
    {
        Task t;
        lock (_gate)
        {
            t = _leading.Task;
        }

        return t.WaitAsync(ct);
    }

    /// <summary>
    /// Campaigns on each session <paramref name="sessions"/> yields, until <paramref name="ct"/> ends.
    /// The caller supplies sessions because a lost session is replaced by the node, not by us.
    /// </summary>
    internal async Task RunAsync(Func<CancellationToken, Task<ISession>> sessions, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            ISession session;
            try
            {
                session = await sessions(ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                break;
            }

            _session = () => session;
            using var campaign = CancellationTokenSource.CreateLinkedTokenSource(ct, session.Lost);
            try
            {
                Transition(LeadershipState.Campaigning, null, "campaigning");
                var key = await _client.CampaignAsync(_keys.Election, session.Id, Keys.Of(_host), campaign.Token).ConfigureAwait(false);
                Transition(LeadershipState.Leader, key, $"elected with fencing token {key.Rev}");
                // Lead until the session is lost or someone fences us out (StepDown cancels LeaderToken).
                using var leading = CancellationTokenSource.CreateLinkedTokenSource(campaign.Token, LeaderToken);
                var watching = WatchOwnKeyAsync(key, leading.Token);
                await Task.Delay(Timeout.Infinite, leading.Token).ConfigureAwait(false);
                await watching.ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or EtcdException or HttpRequestException)
            {
                if (ct.IsCancellationRequested)
                {
                    break;
                }

                var wasLeader = State == LeadershipState.Leader;
                if (session.Lost.IsCancellationRequested)
                {
                    Transition(wasLeader ? LeadershipState.Fenced : LeadershipState.Follower, null, wasLeader ? "session lost while leading: leader work stopped" : "session lost while campaigning");
                }
                else if (e is not OperationCanceledException)
                {
                    LogCampaignFailed(_logger, e.Message);
                    Transition(wasLeader ? LeadershipState.Fenced : LeadershipState.Follower, null, $"campaign failed: {e.Message}");
                    await Task.Delay(TimeSpan.FromMilliseconds(200), CancellationToken.None).ConfigureAwait(false);
                }
            }
        }

        await ResignAsync().ConfigureAwait(false);
        Transition(LeadershipState.Follower, null, "stopped");
    }

    /// <summary>
    /// etcd deletes the leader key when our lease expires or is revoked, possibly before our next
    /// keep-alive would tell us; watching the key stops leader work as soon as etcd knows.
    /// </summary>
    private async Task WatchOwnKeyAsync(LeaderKey key, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await foreach (var r in _client.WatchAsync(new WatchCreateRequest { Key = key.Key, StartRevision = key.Rev + 1 }, ct).ConfigureAwait(false))
                {
                    if (r.Events.Any(e => e.Type == "DELETE"))
                    {
                        StepDown("the leader key was deleted: the session's lease expired or was revoked");
                        return;
                    }
                }
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (EtcdException e) when (e is EtcdCompactedException)
            {
                // History we need is gone: look at the key itself.
                var now = await _client.GetAsync(key.Key, ct).ConfigureAwait(false);
                if (now.Kvs.Count == 0 || now.Kvs[0].CreateRevision != key.Rev)
                {
                    StepDown("the leader key is gone");
                    return;
                }
            }
            catch (Exception e) when (e is EtcdException or HttpRequestException)
            {
                try
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(200), ct).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    /// <summary>A fenced write found another leader's key: stop leader work now and campaign again.</summary>
    internal void StepDown(string reason)
    {
        if (State == LeadershipState.Leader)
        {
            Transition(LeadershipState.Fenced, null, reason);
        }
    }

    private async Task ResignAsync()
    {
        LeaderKey? key;
        lock (_gate)
        {
            key = _leaderKey;
        }

        if (key is null)
        {
            return;
        }

        try
        {
            using var cts = new CancellationTokenSource(_client.Options.RequestTimeout);
            await _client.ResignAsync(key, cts.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is EtcdException or OperationCanceledException)
        {
            // The session's revocation removes the key anyway.
        }
    }

    /// <summary>
    /// The one path for leader-only writes: the transaction also compares the leader key's create
    /// revision with our token. If another host leads, nothing is written, leader work stops, and
    /// <see cref="NotLeaderException"/> names the current leader.
    /// </summary>
    public async Task<TxnResponse> FencedTxnAsync(IReadOnlyList<Compare> compares, IReadOnlyList<RequestOp> success, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(compares);
        ArgumentNullException.ThrowIfNull(success);
        LeaderKey? key;
        lock (_gate)
        {
            key = _state == LeadershipState.Leader ? _leaderKey : null;
        }

        if (key is null)
        {
            throw new NotLeaderException(await SafeLeaderAsync(ct).ConfigureAwait(false), $"state is {State}");
        }

        var txn = new TxnRequest
        {
            Compare = [Compare.CreateRevisionIs(key.Key, key.Rev), .. compares],
            Success = [.. success],
            Failure = [RequestOp.Get(key.Key)],
        };
        var r = await _client.TxnAsync(txn, ct).ConfigureAwait(false);
        if (!r.Succeeded)
        {
            var current = r.Responses.FirstOrDefault()?.ResponseRange?.Kvs.FirstOrDefault();
            if (current is null || current.CreateRevision != key.Rev)
            {
                StepDown($"fenced write refused: token {key.Rev} is stale");
                throw new NotLeaderException(await SafeLeaderAsync(ct).ConfigureAwait(false), $"fencing token {key.Rev} is stale");
            }
        }

        return r;
    }

    private async Task<string?> SafeLeaderAsync(CancellationToken ct)
    {
        try
        {
            return await LeaderAsync(ct).ConfigureAwait(false);
        }
        catch (EtcdException)
        {
            return null;
        }
    }

    private void Transition(LeadershipState state, LeaderKey? key, string reason)
    {
        // Changes are told in the order they happen: the loop that campaigns again may run on
        // another thread as soon as the leader work is cancelled below, and its change must not
        // overtake this one (a handler, e.g. the leadership gauge, would end on the wrong state).
        lock (_notifyGate)
        {
            TransitionCore(state, key, reason);
        }
    }

    private void TransitionCore(LeadershipState state, LeaderKey? key, string reason)
    {
        LeadershipChange change;
        lock (_gate)
        {
            if (_state == state && key is null)
            {
                return;
            }

            if (_state == LeadershipState.Leader && state != LeadershipState.Leader)
            {
                // Leader work stops before anything else.
                _leaderCts.Cancel();
                _leading = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            _state = state;
            _leaderKey = key;
            if (state == LeadershipState.Leader)
            {
                // The old source stays undisposed: leader work may still hold its (cancelled) token.
                _leaderCts = new CancellationTokenSource();
                _leading.TrySetResult();
            }

            change = new LeadershipChange(state, key?.Rev ?? 0, reason);
        }

        LogTransition(_logger, _host, state, change.FencingToken, reason);
        Changed?.Invoke(this, change);
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _leaderCts.Cancel();
            _leaderCts.Dispose();
        }
    }

    [LoggerMessage(EventId = 2201, Level = LogLevel.Information, Message = "{Host}: leadership {State} (token {Token}): {Reason}")]
    private static partial void LogTransition(ILogger logger, string host, LeadershipState state, long token, string reason);

    [LoggerMessage(EventId = 2202, Level = LogLevel.Warning, Message = "campaign failed: {Reason}")]
    private static partial void LogCampaignFailed(ILogger logger, string reason);
}
