using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.Extensions.Logging;

namespace VgMesh.Coordination.Etcd;

/// <summary>
/// etcd v3 through its HTTP/JSON gateway. Every call has a timeout. A call that never reached a
/// member (connection refused, no route, connect timeout) moves on to the next endpoint; an
/// idempotent call also moves on after a timeout or an UNAVAILABLE answer; a transaction that
/// timed out after it was sent throws <see cref="EtcdOutcomeUnknownException"/> and is never retried.
/// </summary>
public sealed partial class EtcdClient : IDisposable
{
    private static readonly MediaTypeHeaderValue Json = new("application/json");
    private readonly EtcdOptions _options;
    private readonly HttpClient _http;
    private readonly ILogger _logger;
    private int _current;

    public EtcdClient(EtcdOptions options, ILogger<EtcdClient> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Validate();
        _logger = logger;
        _http = new HttpClient(new SocketsHttpHandler
        {
            ConnectTimeout = options.ConnectTimeout,
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
        })
        {
            // Timeouts are ours (per call, per watch read); HttpClient's own would cut long streams.
            Timeout = Timeout.InfiniteTimeSpan,
        };
    }

    public EtcdOptions Options => _options;

    /// <summary>The endpoint the next call goes to first.</summary>
    public Uri CurrentEndpoint => _options.Endpoints[Volatile.Read(ref _current) % _options.Endpoints.Count];

    public Task<RangeResponse> RangeAsync(RangeRequest request, CancellationToken ct = default) =>
        UnaryAsync("/v3/kv/range", request, EtcdJsonContext.Default.RangeRequest, EtcdJsonContext.Default.RangeResponse, idempotent: true, ct);

    public Task<RangeResponse> GetAsync(byte[] key, CancellationToken ct = default) => RangeAsync(new RangeRequest { Key = key }, ct);

    /// <summary>Every key under <paramref name="prefix"/>, oldest creation first.</summary>
    public Task<RangeResponse> GetPrefixAsync(byte[] prefix, long minModRevision = 0, bool countOnly = false, CancellationToken ct = default) =>
        RangeAsync(new RangeRequest { Key = prefix, RangeEnd = Keys.PrefixEnd(prefix), SortTarget = "CREATE", SortOrder = "ASCEND", MinModRevision = minModRevision, CountOnly = countOnly }, ct);

    public Task<PutResponse> PutAsync(byte[] key, byte[] value, long lease = 0, CancellationToken ct = default) =>
        UnaryAsync("/v3/kv/put", new PutRequest { Key = key, Value = value, Lease = lease }, EtcdJsonContext.Default.PutRequest, EtcdJsonContext.Default.PutResponse, idempotent: true, ct);

    public Task<DeleteRangeResponse> DeleteAsync(byte[] key, byte[]? rangeEnd = null, CancellationToken ct = default) =>
        UnaryAsync("/v3/kv/deleterange", new DeleteRangeRequest { Key = key, RangeEnd = rangeEnd }, EtcdJsonContext.Default.DeleteRangeRequest, EtcdJsonContext.Default.DeleteRangeResponse, idempotent: true, ct);

    /// <summary>A transaction. Never retried once sent: a timeout is <see cref="EtcdOutcomeUnknownException"/>.</summary>
    public Task<TxnResponse> TxnAsync(TxnRequest request, CancellationToken ct = default) =>
        UnaryAsync("/v3/kv/txn", request, EtcdJsonContext.Default.TxnRequest, EtcdJsonContext.Default.TxnResponse, idempotent: false, ct);

    public Task CompactAsync(long revision, CancellationToken ct = default) =>
        UnaryAsync("/v3/kv/compaction", new CompactionRequest { Revision = revision, Physical = true }, EtcdJsonContext.Default.CompactionRequest, EtcdJsonContext.Default.PutResponse, idempotent: true, ct);

    public Task<LeaseGrantResponse> LeaseGrantAsync(TimeSpan ttl, CancellationToken ct = default) =>
        UnaryAsync("/v3/lease/grant", new LeaseGrantRequest { Ttl = (long)Math.Ceiling(ttl.TotalSeconds) }, EtcdJsonContext.Default.LeaseGrantRequest, EtcdJsonContext.Default.LeaseGrantResponse, idempotent: false, ct);

    /// <summary>One keep-alive. Returns the TTL left in seconds; 0 means the lease has expired.</summary>
    public async Task<long> LeaseKeepAliveAsync(long leaseId, CancellationToken ct = default)
    {
        // The gateway's keep-alive is a stream; one request body yields one answer and ends.
        await foreach (var r in StreamAsync("/v3/lease/keepalive", new LeaseIdRequest { Id = leaseId }, EtcdJsonContext.Default.LeaseIdRequest, EtcdJsonContext.Default.StreamEnvelopeLeaseKeepAliveResponse, _options.RequestTimeout, ct).ConfigureAwait(false))
        {
            return r.Ttl;
        }

        return 0;
    }

    public Task<LeaseTimeToLiveResponse> LeaseTimeToLiveAsync(long leaseId, CancellationToken ct = default) =>
        UnaryAsync("/v3/lease/timetolive", new LeaseIdRequest { Id = leaseId }, EtcdJsonContext.Default.LeaseIdRequest, EtcdJsonContext.Default.LeaseTimeToLiveResponse, idempotent: true, ct);

    public async Task LeaseRevokeAsync(long leaseId, CancellationToken ct = default)
    {
        try
        {
            await UnaryAsync("/v3/lease/revoke", new LeaseIdRequest { Id = leaseId }, EtcdJsonContext.Default.LeaseIdRequest, EtcdJsonContext.Default.PutResponse, idempotent: true, ct).ConfigureAwait(false);
        }
        catch (EtcdException e) when (e.IsNotFound)
        {
            // Already expired: the goal is reached.
        }
    }

    /// <summary>
    /// Campaigns for leadership of <paramref name="name"/> with the session's lease; returns when this
    /// caller leads. Blocks for as long as someone else leads. Cancelling it withdraws the candidacy.
    /// Campaigning again with the same lease is idempotent.
    /// </summary>
    public async Task<LeaderKey> CampaignAsync(byte[] name, long lease, byte[] value, CancellationToken ct)
    {
        var r = await UnaryAsync("/v3/election/campaign", new CampaignRequest { Name = name, Lease = lease, Value = value }, EtcdJsonContext.Default.CampaignRequest, EtcdJsonContext.Default.CampaignResponse, idempotent: true, ct, timeout: Timeout.InfiniteTimeSpan).ConfigureAwait(false);
        return r.Leader ?? throw new EtcdException("etcd answered a campaign without a leader key");
    }

    /// <summary>The current leader's key-value, or null when nobody leads.</summary>
    public async Task<KeyValue?> LeaderAsync(byte[] name, CancellationToken ct = default)
    {
        try
        {
            return (await UnaryAsync("/v3/election/leader", new LeaderRequest { Name = name }, EtcdJsonContext.Default.LeaderRequest, EtcdJsonContext.Default.LeaderResponse, idempotent: true, ct).ConfigureAwait(false)).Kv;
        }
        catch (EtcdException e) when (e.Message.Contains("no leader", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }
    }

    public Task ResignAsync(LeaderKey leader, CancellationToken ct = default) =>
        UnaryAsync("/v3/election/resign", new ResignRequest { Leader = leader }, EtcdJsonContext.Default.ResignRequest, EtcdJsonContext.Default.ResignResponse, idempotent: true, ct);

    /// <summary>
    /// Watches from <see cref="WatchCreateRequest.StartRevision"/>. Ends (throws) when the stream
    /// breaks or stays idle past <see cref="EtcdOptions.WatchIdleTimeout"/>; callers resume from the
    /// last revision they saw. Throws <see cref="EtcdCompactedException"/> when the start is compacted.
    /// </summary>
    public async IAsyncEnumerable<WatchResponse> WatchAsync(WatchCreateRequest request, [EnumeratorCancellation] CancellationToken ct = default)
    {
        await foreach (var r in StreamAsync("/v3/watch", new WatchRequest { CreateRequest = request }, EtcdJsonContext.Default.WatchRequest, EtcdJsonContext.Default.StreamEnvelopeWatchResponse, _options.WatchIdleTimeout, ct).ConfigureAwait(false))
        {
            if (r.CompactRevision > 0)
            {
                throw new EtcdCompactedException(r.CompactRevision);
            }

            if (r.Canceled)
            {
                throw new EtcdException($"etcd cancelled the watch: {r.CancelReason}");
            }

            yield return r;
        }

        throw new EtcdException("the watch stream ended");
    }

    private async Task<TResp> UnaryAsync<TReq, TResp>(string path, TReq request, JsonTypeInfo<TReq> reqType, JsonTypeInfo<TResp> respType, bool idempotent, CancellationToken ct, TimeSpan? timeout = null)
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(request, reqType);
        Exception? last = null;
        for (var attempt = 0; attempt < _options.Endpoints.Count; attempt++)
        {
            var endpoint = CurrentEndpoint;
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
            cts.CancelAfter(timeout ?? _options.RequestTimeout);
            var sent = false;
            try
            {
                using var content = new ByteArrayContent(body);
                content.Headers.ContentType = Json;
                using var response = await _http.PostAsync(new Uri(endpoint, path), content, cts.Token).ConfigureAwait(false);
                sent = true;
                var text = await response.Content.ReadAsByteArrayAsync(cts.Token).ConfigureAwait(false);
                if (!response.IsSuccessStatusCode)
                {
                    throw ToException(path, text);
                }

                return JsonSerializer.Deserialize(text, respType) ?? throw new EtcdException($"etcd answered {path} with nothing");
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                throw;
            }
            catch (Exception e) when (e is HttpRequestException or OperationCanceledException or IOException or EtcdException)
            {
                last = e;
                var reachedMember = sent || (e is OperationCanceledException && !IsConnectFailure(e)) || e is EtcdException;
                if (e is EtcdException ee && !ee.IsTransient)
                {
                    throw;
                }

                if (!idempotent && reachedMember)
                {
                    throw new EtcdOutcomeUnknownException($"{path} on {endpoint} got no answer after it was sent ({e.Message}); its outcome is unknown: read back the key named by the operation id before doing anything else.", e);
                }

                LogEndpointFailed(_logger, endpoint, path, e.Message);
                Interlocked.Increment(ref _current);
            }
        }

        throw new EtcdUnavailableException($"no etcd endpoint answered {path} ({string.Join(", ", _options.Endpoints)}): {last?.Message}. Check that a quorum of etcd members is up and reachable.", last);
    }

    private async IAsyncEnumerable<T> StreamAsync<TReq, T>(string path, TReq request, JsonTypeInfo<TReq> reqType, JsonTypeInfo<StreamEnvelope<T>> envType, TimeSpan idleTimeout, [EnumeratorCancellation] CancellationToken ct)
        where T : class
    {
        var endpoint = CurrentEndpoint;
        HttpResponseMessage response;
        using var connect = CancellationTokenSource.CreateLinkedTokenSource(ct);
        connect.CancelAfter(_options.RequestTimeout);
        try
        {
            var msg = new HttpRequestMessage(HttpMethod.Post, new Uri(endpoint, path))
            {
                Content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(request, reqType)) { Headers = { ContentType = Json } },
            };
            response = await _http.SendAsync(msg, HttpCompletionOption.ResponseHeadersRead, connect.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (!ct.IsCancellationRequested && e is HttpRequestException or OperationCanceledException or IOException)
        {
            Interlocked.Increment(ref _current);
            throw new EtcdUnavailableException($"{path} on {endpoint}: {e.Message}", e);
        }

        using (response)
        {
            if (!response.IsSuccessStatusCode)
            {
                Interlocked.Increment(ref _current);
                throw ToException(path, await response.Content.ReadAsByteArrayAsync(ct).ConfigureAwait(false));
            }

            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false), Encoding.UTF8);
            while (true)
            {
                string? line;
                using (var idle = CancellationTokenSource.CreateLinkedTokenSource(ct))
                {
                    idle.CancelAfter(idleTimeout);
                    try
                    {
                        line = await reader.ReadLineAsync(idle.Token).ConfigureAwait(false);
                    }
                    catch (Exception e) when (!ct.IsCancellationRequested && e is OperationCanceledException or IOException or HttpRequestException)
                    {
                        // Idle or broken: the member may be gone. The next stream starts on the next endpoint.
                        Interlocked.Increment(ref _current);
                        throw new EtcdUnavailableException($"{path} on {endpoint} went silent or broke: {e.Message}", e);
                    }
                }

                if (line is null)
                {
                    yield break;
                }

                if (line.Length == 0)
                {
                    continue;
                }

                var env = JsonSerializer.Deserialize(line, envType);
                if (env?.Error is { } err)
                {
                    throw new EtcdException($"{path}: {err.Message}", err.GrpcCode);
                }

                if (env?.Result is { } result)
                {
                    yield return result;
                }
            }
        }
    }

    private static bool IsConnectFailure(Exception e) =>
        e.InnerException is SocketException or TimeoutException || e.InnerException?.InnerException is SocketException;

    private static EtcdException ToException(string path, byte[] body)
    {
        try
        {
            var err = JsonSerializer.Deserialize(body, EtcdJsonContext.Default.ErrorBody);
            return new EtcdException($"etcd refused {path}: {err?.Message ?? err?.Error}", err?.Code ?? 0);
        }
        catch (JsonException)
        {
            return new EtcdException($"etcd refused {path}: {Encoding.UTF8.GetString(body)}");
        }
    }

    public void Dispose() => _http.Dispose();

    [LoggerMessage(EventId = 2001, Level = LogLevel.Warning, Message = "etcd endpoint {Endpoint} failed {Path}: {Reason}; trying the next one")]
    private static partial void LogEndpointFailed(ILogger logger, Uri endpoint, string path, string reason);
}
