using Akka.Actor;
using Akka.Hosting;
using VgMesh.Agent.Operations;
using VgMesh.Cluster;
using VgMesh.Cluster.Contact;
using VgMesh.Cluster.Coordinator;
using VgMesh.Cluster.Hosting;
using VgMesh.Cluster.Leases;

namespace VgMesh.Agent;

/// <summary>A cluster member as this host's membership sees it.</summary>
public sealed record MemberView(string Host, string Address, Akka.Cluster.MemberStatus Status, bool Reachable)
{
    /// <summary>Up and reachable from here: a host a coordinator can delegate to, and whose answer it can wait for.</summary>
    public bool Live => Status == Akka.Cluster.MemberStatus.Up && Reachable;
}

/// <summary>
/// The agent's door to the cluster: typed asks to the coordinator singleton (each with a
/// timeout and the caller's cancellation), membership from Akka.Cluster's own state, and the
/// coordinator lease's row for a host that checks a delegation. No state of its own.
/// </summary>
public sealed class AgentCluster(ActorSystem system, IRequiredActor<CoordinatorKey> coordinator, CoordinatorClient client, ContactClock contact, AgentOptions options)
{
    /// <summary>How long a question to the coordinator waits before the caller is told there is none.</summary>
    public static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(5);

    public string Host => options.Host;

    public ContactClock Contact => contact;

    /// <summary>Raised (on an actor's thread: keep it short) when another host's active LVs change, or a new coordinator asks for reports.</summary>
    public event EventHandler<IClusterMessage>? HostsChanged;

    internal void RaiseHostsChanged(IClusterMessage m) => HostsChanged?.Invoke(this, m);

    public Task<SubmitAnswer> SubmitAsync(OperationRequest request, TimeSpan wait, CancellationToken ct) => client.SubmitAsync(request, wait, ct);

    /// <summary>Has the coordinator record an operation this host ran outside the queue (lvmlockd mode).</summary>
    public Task<SubmitAnswer> RecordAsync(OperationRequest request, OperationOutcome outcome, TimeSpan wait, CancellationToken ct) => client.RecordAsync(request, outcome, wait, ct);

    /// <summary>The coordinator's view now; a <see cref="NoCoordinator"/> when none answers in time.</summary>
    public async Task<CoordinatorStatus> StatusAsync(CancellationToken ct) =>
        await client.StatusAsync(AskTimeout, ct).ConfigureAwait(false)
            ?? throw new NoCoordinator($"no coordinator answered within {AskTimeout.TotalSeconds:0} s; 'vgmesh cluster status' shows whether one runs. Retry when it does.");

    /// <summary>The coordinator's view once every host of <paramref name="hosts"/> has applied <paramref name="sequence"/>; null when the wait runs out first.</summary>
    public async Task<CoordinatorStatus?> WaitAppliedAsync(long sequence, IEnumerable<string> hosts, TimeSpan wait, CancellationToken ct)
    {
        var proxy = await coordinator.GetAsync(ct).ConfigureAwait(false);
        try
        {
            return await proxy.Ask<CoordinatorStatus>(new WaitApplied(sequence, [.. hosts]), wait, ct).ConfigureAwait(false);
        }
        catch (AskTimeoutException)
        {
            return null;
        }
    }

    public async Task<ActivationVerdict> CheckActivationAsync(string lv, bool exclusive, CancellationToken ct)
    {
        var proxy = await coordinator.GetAsync(ct).ConfigureAwait(false);
        try
        {
            return await proxy.Ask<ActivationVerdict>(new CheckActivation(options.Host, lv, exclusive), AskTimeout, ct).ConfigureAwait(false);
        }
        catch (AskTimeoutException)
        {
            return new ActivationVerdict(null, $"no coordinator answered within {AskTimeout.TotalSeconds:0} s");
        }
    }

    /// <summary>Tells the coordinator this host's report (fire and forget: the next pass sends it again).</summary>
    public async Task ReportAsync(HostReport report, CancellationToken ct) =>
        (await coordinator.GetAsync(ct).ConfigureAwait(false)).Tell(report);

    /// <summary>The agents in the cluster as this host's membership sees them.</summary>
    public IReadOnlyList<MemberView> Members()
    {
        var state = Akka.Cluster.Cluster.Get(system).State;
        return [.. state.Members.Where(m => m.HasRole(ClusterHostingExtensions.Role))
            .Select(m => (Host: ClusterHostingExtensions.HostOf(m), Member: m))
            .Where(x => x.Host is not null)
            .Select(x => new MemberView(x.Host!, x.Member.Address.ToString(), x.Member.Status, !state.Unreachable.Contains(x.Member)))
            .OrderBy(m => m.Host, StringComparer.Ordinal)];
    }

    /// <summary>The hosts that are Up members now.</summary>
    public IReadOnlyCollection<string> LiveHosts() => ClusterHostingExtensions.LiveHosts(system);


    /// <summary>See <see cref="MemberView.Live"/>.</summary>
    public bool IsLive(string host) => Members().Any(m => m.Host == host && m.Live);

    /// <summary>The coordinator lease's row in the database, as any host reads it: who coordinates, under which generation, for how long at least.</summary>
    public Task<LeaseRow?> CoordinatorLeaseAsync(CancellationToken ct) => ClusterHostingExtensions.CoordinatorLease(system).ReadRowAsync(ct);

    /// <summary>
    /// After every host was down, forms the cluster from this host: the first seed of a cluster
    /// that ran before waits for the others rather than start a second cluster beside a running
    /// one (it cannot tell a full outage from being cut off), so an operator says which it is.
    /// Refused while this host is a member, or while the coordinator lease is held (a
    /// coordinator runs somewhere: this host belongs in its cluster, not a new one).
    /// </summary>
    public async Task<string> FormAsync(CancellationToken ct)
    {
        var cluster = Akka.Cluster.Cluster.Get(system);
        if (cluster.State.Members.Any(m => m.Address == cluster.SelfAddress))
        {
            throw new BadRequest($"{options.Host} is already a member of a cluster ('vgmesh cluster status' shows it); nothing to form.");
        }

        var lease = await CoordinatorLeaseAsync(ct).ConfigureAwait(false);
        if (lease is { Remaining.Ticks: > 0 })
        {
            throw new Operations.OperationRefused("coordinator-running", $"the coordinator lease is held by {lease.Owner} (generation {lease.Generation}, {lease.Remaining.TotalSeconds:0.0} s left): a cluster runs. {options.Host} must join it: check its cluster network and seeds, not form a second cluster.");
        }

        cluster.Join(cluster.SelfAddress);
        return $"{options.Host} forms the cluster; the other hosts join it as their seeds answer (the coordinator lease was free{(lease is null ? "" : $" since {-lease.Remaining.TotalSeconds:0} s, last held by {lease.Owner}")}).";
    }

    /// <summary>The time a lease must still have left for a write under it to start.</summary>
    public TimeSpan LeaseMargin => ClusterHostingExtensions.CoordinatorLease(system).SafetyMargin;

    /// <summary>The lease acquisition this host holds as coordinator now, or null.</summary>
    public ILeaseGuard? HeldLease() => ClusterHostingExtensions.CoordinatorLease(system).Current;

    /// <summary>This host's part in the coordinator lease (none, acquiring, held, lost): the singleton's state as the metrics show it.</summary>
    public LeaseState CoordinatorLeaseState() => ClusterHostingExtensions.CoordinatorLease(system).State;
}

/// <summary>Listens on the hosts topic for the agent (reports that changed, a new coordinator).</summary>
public sealed class HostsTopicListener : ReceiveActor
{
    public HostsTopicListener(AgentCluster cluster, IActorRef mediator)
    {
        mediator.Tell(new Akka.Cluster.Tools.PublishSubscribe.Subscribe(CoordinatorSettings.DefaultHostsTopic, Self));
        Receive<Akka.Cluster.Tools.PublishSubscribe.SubscribeAck>(_ => { });
        Receive<HostReported>(r =>
        {
            if (r.Report.Host != cluster.Host)
            {
                cluster.RaiseHostsChanged(r);
            }
        });
        Receive<CoordinatorReady>(cluster.RaiseHostsChanged);
    }
}
