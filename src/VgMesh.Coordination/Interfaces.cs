namespace VgMesh.Coordination;

/// <summary>This agent's liveness in the cluster: a lease kept alive. Lost when it cannot be renewed in time.</summary>
public interface ISession
{
    long Id { get; }

    TimeSpan Ttl { get; }

    /// <summary>How long the lease is certain to live without another renewal (measured on our clock).</summary>
    TimeSpan TimeLeft { get; }

    /// <summary>Cancelled when this session is lost; a new session gets a new token.</summary>
    CancellationToken Lost { get; }

    /// <summary>
    /// At stop, let the lease run out its TTL instead of revoking it. For a host that still has
    /// LVs active by claim: the TTL (plus the grace) is what keeps the coordinator from giving
    /// them to another host before this host's next agent has joined, or fenced them.
    /// </summary>
    void KeepAfterStop();
}

/// <summary>Who is in the cluster.</summary>
public interface IMembership
{
    Task<IReadOnlyList<MemberInfo>> ListAsync(CancellationToken ct = default);

    /// <summary>Joins and departures from now on, until cancelled.</summary>
    IAsyncEnumerable<MembershipChange> WatchAsync(CancellationToken ct = default);
}

/// <summary>
/// The one coordinator. Every leader-only write is fenced by <see cref="FencingToken"/> (the
/// leader key's create revision): a leader that lost its session cannot write once another leads.
/// </summary>
public interface ICoordinator
{
    LeadershipState State { get; }

    /// <summary>Valid while <see cref="State"/> is <see cref="LeadershipState.Leader"/>.</summary>
    long FencingToken { get; }

    /// <summary>Cancelled the moment leadership ends, before anything else happens: leader work stops first.</summary>
    CancellationToken LeaderToken { get; }

    event EventHandler<LeadershipChange>? Changed;

    /// <summary>The host that leads now, or null.</summary>
    Task<string?> LeaderAsync(CancellationToken ct = default);

    /// <summary>
    /// The leader as the store sees it now: host, fencing token and how long its lease lives at
    /// least. Another host checks a coordinator's delegation against this, not against its own view.
    /// </summary>
    Task<LeaderLease?> LeaderLeaseAsync(CancellationToken ct = default);

    /// <summary>Throws <see cref="NotLeaderException"/> unless this host leads with at least <paramref name="minimumLeaseLeft"/> of session left.</summary>
    void EnsureLeader(TimeSpan minimumLeaseLeft);

    /// <summary>Completes when this host leads.</summary>
    Task WaitForLeadershipAsync(CancellationToken ct = default);
}

/// <summary>The cluster's ordered, lossless event stream, and each host's progress through it.</summary>
public interface IEventLog
{
    /// <summary>Appends events in one fenced write (leader only); returns their revision.</summary>
    Task<long> AppendAsync(IReadOnlyList<ClusterEvent> events, CancellationToken ct = default);

    /// <summary>
    /// Every batch after <paramref name="afterRevision"/>, in order, each once, across disconnections
    /// and compaction, until cancelled.
    /// </summary>
    IAsyncEnumerable<EventBatch> SubscribeAsync(long afterRevision, CancellationToken ct = default);

    /// <summary>Publishes that this host has applied everything up to <paramref name="revision"/>.</summary>
    Task AcknowledgeAsync(long revision, CancellationToken ct = default);

    Task<IReadOnlyList<HostProgress>> ProgressAsync(CancellationToken ct = default);

    /// <summary>
    /// Each host's applied revision, in one read: what an answer polls while it waits for every
    /// host (<see cref="ProgressAsync"/> also reads every host's backlog to measure its lag).
    /// </summary>
    Task<IReadOnlyDictionary<string, long>> AppliedAsync(CancellationToken ct = default);

    /// <summary>
    /// Each host's applied revision now, then again whenever one may have changed, until cancelled:
    /// what an answer waits on without polling (every host acknowledges every change).
    /// </summary>
    IAsyncEnumerable<IReadOnlyDictionary<string, long>> WatchAppliedAsync(CancellationToken ct = default);

    /// <summary>
    /// Deletes the events stamped before <paramref name="before"/> that every live host has applied
    /// (leader only, fenced); returns how many. A host that was away re-reads LVM and device-mapper
    /// in its first pass, so it needs none of them; a live host never loses one it has not applied.
    /// </summary>
    Task<int> PruneAsync(DateTimeOffset before, CancellationToken ct = default);
}

/// <summary>
/// The durable operation queue. Submissions are idempotent by id; the leader consumes them in
/// submission order; each operation gets exactly one result.
/// </summary>
public interface IOperationQueue
{
    /// <summary>Queues the request durably; the same id twice yields the one operation.</summary>
    Task<QueuedOperation> SubmitAsync(OperationRequest request, CancellationToken ct = default);

    /// <summary>
    /// Waits for the result. If no coordinator has taken the operation after <paramref name="leaderWait"/>
    /// and none is elected, the operation is cancelled (it will never run) and a Cancelled result says so.
    /// </summary>
    Task<OperationResult> WaitAsync(string id, TimeSpan leaderWait, CancellationToken ct = default);

    Task<OperationResult?> GetResultAsync(string id, CancellationToken ct = default);

    /// <summary>Operations submitted and without a result yet.</summary>
    Task<long> DepthAsync(CancellationToken ct = default);

    /// <summary>Leader side: operations without a result, in submission order, then new ones as they come.</summary>
    IAsyncEnumerable<QueuedOperation> PendingAsync(CancellationToken ct = default);

    /// <summary>Leader side: takes the operation (fenced). False when it already has a result (cancelled, or done).</summary>
    Task<bool> ClaimAsync(string id, CancellationToken ct = default);

    /// <summary>Leader side: records the result, its events and its catalog changes in one fenced write; returns the revision.</summary>
    Task<long> CompleteAsync(OperationResult result, IReadOnlyList<ClusterEvent> events, IReadOnlyList<CatalogWrite>? catalog = null, CancellationToken ct = default);

    /// <summary>
    /// Forgets the operations completed before <paramref name="completedBefore"/>: request, claim and
    /// result together (leader only, fenced); returns how many. Operations without a result are never
    /// touched. An id forgotten this way can be submitted again as a new operation: the retention is
    /// the idempotency window.
    /// </summary>
    Task<int> PruneAsync(DateTimeOffset completedBefore, CancellationToken ct = default);
}

/// <summary>
/// Small shared state beside the queue: keys the leader writes (fenced; e.g. activation claims)
/// and keys each host publishes about itself, bound to its session (they vanish with it).
/// Keys are relative names such as <c>claims/vm1</c>.
/// </summary>
public interface ICatalog
{
    Task<string?> GetAsync(string key, CancellationToken ct = default);

    /// <summary>Every key under the prefix, with its value.</summary>
    Task<IReadOnlyDictionary<string, string>> ListAsync(string prefix, CancellationToken ct = default);

    /// <summary>Publishes a key owned by this host; it lives as long as this host's session.</summary>
    Task PublishOwnAsync(string key, string value, CancellationToken ct = default);

    /// <summary>
    /// Changes under the prefix from now on: the key's name and its new value (null when deleted).
    /// A hint to look again, not a log: after a broken connection some changes may come merged.
    /// </summary>
    IAsyncEnumerable<KeyValuePair<string, string?>> WatchAsync(string prefix, CancellationToken ct = default);
}

/// <summary>One agent's connection to the cluster: etcd, or the single-host backend.</summary>
public interface IClusterNode : IAsyncDisposable
{
    string Host { get; }

    ISession Session { get; }

    IMembership Members { get; }

    ICoordinator Coordinator { get; }

    IEventLog Events { get; }

    IOperationQueue Operations { get; }

    ICatalog Catalog { get; }

    /// <summary>Opens the session, publishes the member record and starts campaigning.</summary>
    Task StartAsync(MemberInfo self, CancellationToken ct = default);
}
