using Microsoft.Extensions.Logging;

namespace VgMesh.Coordination.Etcd;

/// <summary>
/// A lease kept alive every TTL/3. The session counts as lost when a renewal has not succeeded
/// for a whole TTL on our own clock (etcd may already have expired it), or when etcd says the
/// lease is gone. Losing it cancels <see cref="Lost"/> at once.
/// </summary>
public sealed partial class EtcdSession : ISession, IAsyncDisposable
{
    private volatile bool _keep;

    private readonly EtcdClient _client;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _lost = new();
    private readonly CancellationTokenSource _stop = new();
    private long _expiresAt;
    private Task? _loop;

    private EtcdSession(EtcdClient client, long id, TimeSpan ttl, TimeProvider time, ILogger logger)
    {
        _client = client;
        Id = id;
        Ttl = ttl;
        _time = time;
        _logger = logger;
        _expiresAt = time.GetTimestamp() + ToTicks(ttl);
    }

    private long ToTicks(TimeSpan t) => (long)(t.TotalSeconds * _time.TimestampFrequency);

    public long Id { get; }

    public TimeSpan Ttl { get; }

    public CancellationToken Lost => _lost.Token;

    public TimeSpan TimeLeft
    {
        get
        {
            var left = Volatile.Read(ref _expiresAt) - _time.GetTimestamp();
            return left <= 0 || _lost.IsCancellationRequested ? TimeSpan.Zero : TimeSpan.FromSeconds(left / (double)_time.TimestampFrequency);
        }
    }

    /// <summary>Renewal delays seen (how late each renewal was), for the metrics that come later.</summary>
    public event Action<TimeSpan>? Renewed;

    public static async Task<EtcdSession> OpenAsync(EtcdClient client, TimeSpan ttl, TimeProvider time, ILogger logger, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(client);
        var started = time.GetTimestamp();
        var grant = await client.LeaseGrantAsync(ttl, ct).ConfigureAwait(false);
        // The lease started no later than our request: count from then.
        var s = new EtcdSession(client, grant.Id, TimeSpan.FromSeconds(grant.Ttl), time, logger);
        s._expiresAt = started + s.ToTicks(s.Ttl);
        s._loop = Task.Run(s.KeepAliveLoopAsync, CancellationToken.None);
        return s;
    }

    private async Task KeepAliveLoopAsync()
    {
        var interval = Ttl / 3;
        while (!_stop.IsCancellationRequested && !_lost.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(interval, _time, _stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            var sent = _time.GetTimestamp();
            try
            {
                using var attempt = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                attempt.CancelAfter(TimeLeft > TimeSpan.Zero ? TimeLeft : TimeSpan.FromMilliseconds(1));
                var ttl = await _client.LeaseKeepAliveAsync(Id, attempt.Token).ConfigureAwait(false);
                if (ttl <= 0)
                {
                    MarkLost("etcd says the lease has expired");
                    return;
                }

                Volatile.Write(ref _expiresAt, sent + ToTicks(TimeSpan.FromSeconds(ttl)));
                Renewed?.Invoke(_time.GetElapsedTime(sent));
            }
            catch (Exception e) when (e is EtcdException or OperationCanceledException or HttpRequestException)
            {
                if (_stop.IsCancellationRequested)
                {
                    return;
                }

                if (e is EtcdException { IsNotFound: true })
                {
                    MarkLost("etcd no longer knows the lease");
                    return;
                }

                LogRenewFailed(_logger, Id, e.Message, TimeLeft.TotalMilliseconds);
                interval = TimeSpan.FromMilliseconds(Math.Max(100, Ttl.TotalMilliseconds / 10));
            }

            if (TimeLeft <= TimeSpan.Zero)
            {
                MarkLost($"no renewal succeeded within the {Ttl.TotalSeconds:0} s TTL");
                return;
            }

            if (interval < Ttl / 3 && TimeLeft > TimeSpan.Zero)
            {
                interval = Ttl / 3;
            }
        }
    }

    private void MarkLost(string reason)
    {
        LogLost(_logger, Id, reason);
        _lost.Cancel();
    }

    public void KeepAfterStop() => _keep = true;

    /// <summary>
    /// Stops renewing and revokes the lease, so the member key and any leadership vanish at once
    /// (unless <see cref="KeepAfterStop"/> was called: then it expires after its TTL).
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(false);
        }

        if (!_lost.IsCancellationRequested && !_keep)
        {
            try
            {
                using var cts = new CancellationTokenSource(_client.Options.RequestTimeout);
                await _client.LeaseRevokeAsync(Id, cts.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is EtcdException or OperationCanceledException)
            {
                // It expires by itself after its TTL.
            }

            _lost.Cancel();
        }

        _lost.Dispose();
        _stop.Dispose();
    }

    [LoggerMessage(EventId = 2101, Level = LogLevel.Warning, Message = "session {LeaseId}: renewal failed ({Reason}); {LeftMs:0} ms of lease left")]
    private static partial void LogRenewFailed(ILogger logger, long leaseId, string reason, double leftMs);

    [LoggerMessage(EventId = 2102, Level = LogLevel.Error, Message = "session {LeaseId} lost: {Reason}")]
    private static partial void LogLost(ILogger logger, long leaseId, string reason);
}
