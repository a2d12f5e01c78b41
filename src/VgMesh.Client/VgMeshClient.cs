using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace VgMesh.Client;

/// <summary>An error the agent answered, with its stable code and HTTP status.</summary>
public sealed class VgMeshApiException(Problem problem) : Exception(problem.Detail)
{
    public Problem Problem { get; } = problem;
}

/// <summary>
/// The agent's HTTP API, over its root-only Unix socket or over TCP with the cluster's bearer
/// token. Method names follow the routes (and the CLI's verbs).
/// </summary>
public sealed class VgMeshClient : IDisposable
{
    private readonly HttpClient _http;

    private VgMeshClient(HttpClient http) => _http = http;

    public static VgMeshClient ForUnixSocket(string path, TimeSpan? timeout = null)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, ct) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), ct).ConfigureAwait(false);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        return new VgMeshClient(new HttpClient(new SocketErrorsAsRequestErrors(handler)) { BaseAddress = new Uri("http://vgmeshd/"), Timeout = timeout ?? TimeSpan.FromMinutes(5) });
    }

    /// <param name="reuseConnections">
    /// False: a new connection for every request. A caller that must know whether a failed
    /// request was ever sent needs it: a pooled connection the server has closed is retried on a
    /// new one, so a refused connect may follow a request the server already received.
    /// </param>
    public static VgMeshClient ForTcp(Uri endpoint, string token, TimeSpan? timeout = null, bool reuseConnections = true)
    {
        var handler = new SocketsHttpHandler();
        if (!reuseConnections)
        {
            handler.PooledConnectionLifetime = TimeSpan.Zero;
        }

        var http = new HttpClient(new SocketErrorsAsRequestErrors(handler)) { BaseAddress = endpoint, Timeout = timeout ?? TimeSpan.FromMinutes(5) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return new VgMeshClient(http);
    }

    public Task<List<LvView>> ListLvsAsync(CancellationToken ct = default) => GetAsync("v1/lvs", ApiJsonContext.Default.ListLvView, ct);

    public Task<LvView> ShowLvAsync(string name, CancellationToken ct = default) => GetAsync($"v1/lvs/{Uri.EscapeDataString(name)}", ApiJsonContext.Default.LvView, ct);

    public Task<OperationView> CreateLvAsync(CreateLvBody body, CancellationToken ct = default) =>
        SendAsync(HttpMethod.Post, "v1/lvs", body, ApiJsonContext.Default.CreateLvBody, ct);

    public Task<OperationView> RemoveLvAsync(string name, string? operationId = null, CancellationToken ct = default) =>
        SendAsync<object>(HttpMethod.Delete, $"v1/lvs/{Uri.EscapeDataString(name)}{(operationId is null ? "" : "?operationId=" + Uri.EscapeDataString(operationId))}", null, null, ct);

    public Task<OperationView> ExtendLvAsync(string name, ResizeLvBody body, CancellationToken ct = default) =>
        SendAsync(HttpMethod.Post, $"v1/lvs/{Uri.EscapeDataString(name)}/extend", body, ApiJsonContext.Default.ResizeLvBody, ct);

    public Task<OperationView> ReduceLvAsync(string name, ResizeLvBody body, CancellationToken ct = default) =>
        SendAsync(HttpMethod.Post, $"v1/lvs/{Uri.EscapeDataString(name)}/reduce", body, ApiJsonContext.Default.ResizeLvBody, ct);

    public Task<OperationView> ActivateLvAsync(string name, ActivateLvBody body, CancellationToken ct = default) =>
        SendAsync(HttpMethod.Post, $"v1/lvs/{Uri.EscapeDataString(name)}/activate", body, ApiJsonContext.Default.ActivateLvBody, ct);

    public Task<OperationView> DeactivateLvAsync(string name, DeactivateLvBody body, CancellationToken ct = default) =>
        SendAsync(HttpMethod.Post, $"v1/lvs/{Uri.EscapeDataString(name)}/deactivate", body, ApiJsonContext.Default.DeactivateLvBody, ct);

    public Task<OperationView> RenameLvAsync(string name, RenameLvBody body, CancellationToken ct = default) =>
        SendAsync(HttpMethod.Post, $"v1/lvs/{Uri.EscapeDataString(name)}/rename", body, ApiJsonContext.Default.RenameLvBody, ct);

    public Task<OperationView> SnapshotLvAsync(string origin, SnapshotLvBody body, CancellationToken ct = default) =>
        SendAsync(HttpMethod.Post, $"v1/lvs/{Uri.EscapeDataString(origin)}/snapshot", body, ApiJsonContext.Default.SnapshotLvBody, ct);

    public Task<OperationView> MergeLvAsync(string snapshot, MergeLvBody body, CancellationToken ct = default) =>
        SendAsync(HttpMethod.Post, $"v1/lvs/{Uri.EscapeDataString(snapshot)}/merge", body, ApiJsonContext.Default.MergeLvBody, ct);

    public Task<OperationView> TagLvAsync(string name, TagLvBody body, CancellationToken ct = default) =>
        SendAsync(HttpMethod.Post, $"v1/lvs/{Uri.EscapeDataString(name)}/tags", body, ApiJsonContext.Default.TagLvBody, ct);

    public Task<HostView> ShowHostAsync(string host, CancellationToken ct = default) => GetAsync($"v1/hosts/{Uri.EscapeDataString(host)}", ApiJsonContext.Default.HostView, ct);

    /// <summary>
    /// Events after <paramref name="after"/> (null: from the start, or with <paramref name="follow"/>
    /// from the newest revision a host has applied), one per line as the agent streams them; without
    /// <paramref name="follow"/> the stream ends once it has caught up.
    /// </summary>
    public async IAsyncEnumerable<EventView> EventsAsync(long? after, bool follow, [EnumeratorCancellation] CancellationToken ct = default)
    {
        // Headers only are bounded by HttpClient's timeout; a stream that stops without
        // following would otherwise be waited on for ever, so the whole of it gets that bound.
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(ct);
        if (!follow)
        {
            bound.CancelAfter(_http.Timeout);
        }

        var query = $"v1/events?follow={(follow ? "true" : "false")}{(after is { } a ? "&after=" + a.ToString(CultureInfo.InvariantCulture) : "")}";
        using var r = await _http.GetAsync(new Uri(query, UriKind.Relative), HttpCompletionOption.ResponseHeadersRead, bound.Token).ConfigureAwait(false);
        if (!r.IsSuccessStatusCode)
        {
            await ReadAsync(r, ApiJsonContext.Default.EventView, bound.Token).ConfigureAwait(false);
        }

        using var reader = new StreamReader(await r.Content.ReadAsStreamAsync(bound.Token).ConfigureAwait(false));
        while (await reader.ReadLineAsync(bound.Token).ConfigureAwait(false) is { } line)
        {
            if (line.Length > 0)
            {
                yield return JsonSerializer.Deserialize(line, ApiJsonContext.Default.EventView)!;
            }
        }
    }

    /// <summary>
    /// The changed chunks of a snapshot, streamed by the host where it is active (format
    /// <c>vgmesh</c> or <c>lvmsync</c>); the caller disposes the stream. Only the headers are
    /// bounded by the client's timeout.
    /// </summary>
    public async Task<Stream> OpenDeltaAsync(string snapshot, string format, CancellationToken ct = default)
    {
        var r = await _http.GetAsync(new Uri($"v1/lvs/{Uri.EscapeDataString(snapshot)}/delta?format={Uri.EscapeDataString(format)}", UriKind.Relative), HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
        if (!r.IsSuccessStatusCode)
        {
            using (r)
            {
                await ReadAsync(r, ApiJsonContext.Default.Problem, ct).ConfigureAwait(false);
            }
        }

        return await r.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
    }

    /// <summary>
    /// A backup of an LV, streamed by the host where it is active: the whole LV (<c>full</c>,
    /// raw, with its length) or the changes since the chain's base (<c>delta</c>, a vgmesh delta
    /// stream). <paramref name="fresh"/> starts a new incremental chain.
    /// </summary>
    public async Task<(string Kind, long? Length, Stream Body)> OpenBackupAsync(string name, bool incremental, bool fresh, string? cowSize, CancellationToken ct = default)
    {
        var query = $"v1/lvs/{Uri.EscapeDataString(name)}/backup?incremental={(incremental ? "true" : "false")}&fresh={(fresh ? "true" : "false")}{(cowSize is null ? "" : "&cowSize=" + Uri.EscapeDataString(cowSize))}";
        using var msg = new HttpRequestMessage(HttpMethod.Post, new Uri(query, UriKind.Relative));
        var r = await _http.SendAsync(msg, HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
        if (!r.IsSuccessStatusCode)
        {
            using (r)
            {
                await ReadAsync(r, ApiJsonContext.Default.Problem, ct).ConfigureAwait(false);
            }
        }

        var kind = r.Headers.TryGetValues("X-Vgmesh-Backup", out var k) ? k.First() : "";
        return (kind, r.Content.Headers.ContentLength, await r.Content.ReadAsStreamAsync(ct).ConfigureAwait(false));
    }

    /// <summary>
    /// A snapshot's delta applied to another LV of the cluster, on the host where that LV is
    /// active (its agent pulls the stream from the snapshot's holder). The answer streams progress
    /// lines, so an apply of any length outlives the request timeout; an error that stops it
    /// midway arrives as its last line and is thrown as <see cref="VgMeshApiException"/>.
    /// </summary>
    public async Task<SyncResultView> SyncToLvAsync(string dest, string snapshot, string format, string? snapback, Action<long>? progress, CancellationToken ct = default)
    {
        var path = $"v1/lvs/{Uri.EscapeDataString(dest)}/sync?snapshot={Uri.EscapeDataString(snapshot)}&format={Uri.EscapeDataString(format)}{(snapback is null ? "" : "&snapback=" + Uri.EscapeDataString(snapback))}";
        using var msg = new HttpRequestMessage(HttpMethod.Post, new Uri(path, UriKind.Relative));
        using var r = await _http.SendAsync(msg, HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
        if (!r.IsSuccessStatusCode)
        {
            await ReadAsync(r, ApiJsonContext.Default.Problem, ct).ConfigureAwait(false);
        }

        using var lines = new StreamReader(await r.Content.ReadAsStreamAsync(ct).ConfigureAwait(false));
        while (await lines.ReadLineAsync(ct).ConfigureAwait(false) is { } line)
        {
            var l = JsonSerializer.Deserialize(line, ApiJsonContext.Default.SyncLine)!;
            if (l.Error is { } e)
            {
                throw new VgMeshApiException(e);
            }

            if (l.Result is { } done)
            {
                return done;
            }

            progress?.Invoke(l.Bytes ?? 0);
        }

        throw new VgMeshApiException(new Problem("about:blank", "cut", 502, $"the answer to the sync of {dest} ended before its result: the agent or the connection went; read the destination's agent log, and sync again (a delta applies again safely).", "cut"));
    }

    public Task<OperationView> UnfenceLvAsync(string name, CancellationToken ct = default) =>
        SendAsync<object>(HttpMethod.Post, $"v1/lvs/{Uri.EscapeDataString(name)}/unfence", null, null, ct);

    public Task<List<CloneUsageView>> UsageAsync(string? template, CancellationToken ct = default) =>
        GetAsync(template is null ? "v1/usage" : $"v1/usage?template={Uri.EscapeDataString(template)}", ApiJsonContext.Default.ListCloneUsageView, ct);

    public Task<List<HostView>> ListHostsAsync(CancellationToken ct = default) => GetAsync("v1/hosts", ApiJsonContext.Default.ListHostView, ct);

    /// <summary>After every host was down: this agent forms the cluster (refused while a coordinator holds the lease).</summary>
    public Task<OperationView> FormClusterAsync(CancellationToken ct = default) =>
        SendAsync<object>(HttpMethod.Post, "v1/cluster/form", null, null, ct);

    public Task<ClusterStatusView> ClusterStatusAsync(CancellationToken ct = default) => GetAsync("v1/cluster/status", ApiJsonContext.Default.ClusterStatusView, ct);

    /// <summary>Every LLS container's quota and use (operators; the owners found in the VG, the quotas set, and this host's containers).</summary>
    public Task<List<LlsQuotaView>> LlsQuotasAsync(CancellationToken ct = default) => GetAsync("v1/lls/quotas", ApiJsonContext.Default.ListLlsQuotaView, ct);

    public Task<OperationView> SetLlsQuotaAsync(string host, string container, LlsQuotaBody body, CancellationToken ct = default) =>
        SendAsync(HttpMethod.Put, $"v1/lls/quotas/{Uri.EscapeDataString(host)}/{Uri.EscapeDataString(container)}", body, ApiJsonContext.Default.LlsQuotaBody, ct);

    // LLS: a container's own volumes, on the socket in its /lls (the agent knows the caller from the kernel).

    public Task<List<LlsVolumeView>> LlsListAsync(CancellationToken ct = default) => GetAsync("lls/v1/volumes", ApiJsonContext.Default.ListLlsVolumeView, ct);

    public Task<LlsVolumeView> LlsCreateAsync(LlsCreateBody body, CancellationToken ct = default) =>
        SendAsync(HttpMethod.Post, "lls/v1/volumes", body, ApiJsonContext.Default.LlsCreateBody, ApiJsonContext.Default.LlsVolumeView, ct);

    public Task<LlsVolumeView> LlsSnapshotAsync(string origin, LlsSnapshotBody body, CancellationToken ct = default) =>
        SendAsync(HttpMethod.Post, $"lls/v1/volumes/{Uri.EscapeDataString(origin)}/snapshot", body, ApiJsonContext.Default.LlsSnapshotBody, ApiJsonContext.Default.LlsVolumeView, ct);

    public Task<LlsVolumeView> LlsResizeAsync(string name, LlsResizeBody body, CancellationToken ct = default) =>
        SendAsync(HttpMethod.Post, $"lls/v1/volumes/{Uri.EscapeDataString(name)}/resize", body, ApiJsonContext.Default.LlsResizeBody, ApiJsonContext.Default.LlsVolumeView, ct);

    public Task<LlsVolumeView> LlsSetAsync(string name, LlsFlagsBody body, CancellationToken ct = default) =>
        SendAsync(HttpMethod.Post, $"lls/v1/volumes/{Uri.EscapeDataString(name)}/flags", body, ApiJsonContext.Default.LlsFlagsBody, ApiJsonContext.Default.LlsVolumeView, ct);

    public Task<LlsVolumeView> LlsDeleteAsync(string name, CancellationToken ct = default) =>
        SendAsync<object, LlsVolumeView>(HttpMethod.Delete, $"lls/v1/volumes/{Uri.EscapeDataString(name)}", null, null, ApiJsonContext.Default.LlsVolumeView, ct);

    private async Task<T> GetAsync<T>(string path, JsonTypeInfo<T> type, CancellationToken ct)
    {
        using var r = await _http.GetAsync(new Uri(path, UriKind.Relative), ct).ConfigureAwait(false);
        return await ReadAsync(r, type, ct).ConfigureAwait(false);
    }

    private Task<OperationView> SendAsync<TBody>(HttpMethod method, string path, TBody? body, JsonTypeInfo<TBody>? type, CancellationToken ct) =>
        SendAsync(method, path, body, type, ApiJsonContext.Default.OperationView, ct);

    private async Task<TAnswer> SendAsync<TBody, TAnswer>(HttpMethod method, string path, TBody? body, JsonTypeInfo<TBody>? type, JsonTypeInfo<TAnswer> answer, CancellationToken ct)
    {
        using var msg = new HttpRequestMessage(method, new Uri(path, UriKind.Relative));
        if (body is not null && type is not null)
        {
            msg.Content = JsonContent.Create(body, type);
        }

        using var r = await _http.SendAsync(msg, ct).ConfigureAwait(false);
        return await ReadAsync(r, answer, ct).ConfigureAwait(false);
    }

    private static async Task<T> ReadAsync<T>(HttpResponseMessage r, JsonTypeInfo<T> type, CancellationToken ct)
    {
        if (!r.IsSuccessStatusCode)
        {
            Problem? problem = null;
            if (r.Content.Headers.ContentType?.MediaType is "application/problem+json" or "application/json")
            {
                problem = await r.Content.ReadFromJsonAsync(ApiJsonContext.Default.Problem, ct).ConfigureAwait(false);
            }

            throw new VgMeshApiException(problem ?? new Problem("about:blank", r.ReasonPhrase ?? "error", (int)r.StatusCode,
                r.StatusCode == HttpStatusCode.Unauthorized ? "the agent refused the token: check --token-file" : $"the agent answered {(int)r.StatusCode}", "http-" + (int)r.StatusCode));
        }

        return (await r.Content.ReadFromJsonAsync(type, ct).ConfigureAwait(false))!;
    }

    public void Dispose() => _http.Dispose();

    /// <summary>
    /// The socket handler lets one connect failure out unwrapped: a peer that resets the
    /// connection right after accepting it (an agent killed with its listen backlog full) makes
    /// the pool's read of the remote end point throw a bare SocketException (ENOTCONN). The
    /// torture run of 2026-12-06 died of it. Every caller handles HttpRequestException as
    /// "the agent could not be reached", so this is turned into one.
    /// </summary>
    internal sealed class SocketErrorsAsRequestErrors(HttpMessageHandler inner) : DelegatingHandler(inner)
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            try
            {
                return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
            }
            catch (SocketException e)
            {
                throw new HttpRequestException(HttpRequestError.ConnectionError, $"{e.Message} ({request.RequestUri?.Authority})", e);
            }
        }
    }
}
