using Microsoft.Extensions.Logging;

namespace VgMesh.Coordination.Etcd;

/// <summary>Settings of one agent's cluster connection. Immutable; validated at start.</summary>
public sealed record ClusterOptions
{
    public string Cluster { get; init; } = "default";

    public string Host { get; init; } = Environment.MachineName;

    /// <summary>Session TTL: how long a silent agent keeps its member key and leadership. 3 s to 60 s.</summary>
    public TimeSpan SessionTtl { get; init; } = TimeSpan.FromSeconds(10);

    public ClusterOptions Validate()
    {
        static bool Ok(string s) => s.Length is > 0 and <= 64 && s.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.') && s[0] is not ('.' or '-');
        if (!Ok(Cluster))
        {
            throw new ArgumentException($"cluster settings: cluster name '{Cluster}' must be 1-64 of A-Z a-z 0-9 - _ . (it becomes an etcd key).");
        }

        if (!Ok(Host))
        {
            throw new ArgumentException($"cluster settings: host name '{Host}' must be 1-64 of A-Z a-z 0-9 - _ . (it becomes an etcd key).");
        }

        if (SessionTtl < TimeSpan.FromSeconds(3) || SessionTtl > TimeSpan.FromSeconds(60))
        {
            throw new ArgumentException($"cluster settings: session TTL {SessionTtl.TotalSeconds} s is outside 3-60 s.");
        }

        return this;
    }
}

/// <summary>
/// An agent's connection to an etcd cluster. Keeps a session alive, replacing it when it is
/// lost (and publishing the member record again), and campaigns for leadership on each session.
/// </summary>
public sealed partial class EtcdClusterNode : IClusterNode
{
    private readonly EtcdClient _client;
    private readonly ClusterOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly EtcdMembership _members;
    private readonly EtcdCoordinator _coordinator;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private EtcdSession? _session;
    private MemberInfo? _self;
    private Task? _campaign;

    public EtcdClusterNode(EtcdClient client, ClusterOptions options, TimeProvider time, ILoggerFactory loggers)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggers);
        _client = client;
        _options = options.Validate();
        _time = time;
        _logger = loggers.CreateLogger<EtcdClusterNode>();
        var keys = new ClusterKeys(options.Cluster);
        Keys = keys;
        _members = new EtcdMembership(client, keys, time);
        _coordinator = new EtcdCoordinator(client, keys, options.Host, loggers.CreateLogger<EtcdCoordinator>());
        var events = new EtcdEventLog(client, _coordinator, keys, options.Host, time);
        Events = events;
        Operations = new EtcdOperationQueue(client, _coordinator, events, keys, options.Host, time);
        Catalog = new EtcdCatalog(client, keys, () => Session, time);
    }

    public string Host => _options.Host;

    public ClusterKeys Keys { get; }

    public ISession Session => _session ?? throw new InvalidOperationException("the node has not started");

    public IMembership Members => _members;

    public ICoordinator Coordinator => _coordinator;

    /// <summary>The etcd coordinator, for its fenced transaction path.</summary>
    public EtcdCoordinator EtcdCoordinator => _coordinator;

    public IEventLog Events { get; }

    public IOperationQueue Operations { get; }

    public ICatalog Catalog { get; }

    public async Task StartAsync(MemberInfo self, CancellationToken ct = default)
    {
        _self = self;
        await NextSessionAsync(ct).ConfigureAwait(false);
        _campaign = Task.Run(() => _coordinator.RunAsync(NextSessionAsync, _stop.Token), CancellationToken.None);
    }

    /// <summary>The live session; after a loss, a new one (with the member record published again).</summary>
    private async Task<ISession> NextSessionAsync(CancellationToken ct)
    {
        EtcdSession? current;
        lock (_gate)
        {
            current = _session;
        }

        if (current is { Lost.IsCancellationRequested: false })
        {
            return current;
        }

        var backoff = TimeSpan.FromMilliseconds(100);
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            try
            {
                var session = await EtcdSession.OpenAsync(_client, _options.SessionTtl, _time, _logger, ct).ConfigureAwait(false);
                await _members.PublishAsync(_self!, session, ct).ConfigureAwait(false);
                lock (_gate)
                {
                    _session = session;
                }

                if (current is not null)
                {
                    await current.DisposeAsync().ConfigureAwait(false);
                    LogNewSession(_logger, Host, session.Id);
                }

                return session;
            }
            catch (Exception e) when (e is EtcdException or HttpRequestException && !ct.IsCancellationRequested)
            {
                LogSessionFailed(_logger, Host, e.Message);
                await Task.Delay(backoff, _time, ct).ConfigureAwait(false);
                backoff = TimeSpan.FromMilliseconds(Math.Min(backoff.TotalMilliseconds * 2, 2000));
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_campaign is not null)
        {
            await _campaign.ConfigureAwait(false);
        }

        if (_session is not null)
        {
            await _session.DisposeAsync().ConfigureAwait(false);
        }

        _coordinator.Dispose();
        _stop.Dispose();
    }

    [LoggerMessage(EventId = 2301, Level = LogLevel.Warning, Message = "{Host}: new session {LeaseId} after the previous one was lost")]
    private static partial void LogNewSession(ILogger logger, string host, long leaseId);

    [LoggerMessage(EventId = 2302, Level = LogLevel.Warning, Message = "{Host}: cannot open a session: {Reason}")]
    private static partial void LogSessionFailed(ILogger logger, string host, string reason);
}
