using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using VgMesh.Agent.Operations;
using VgMesh.Agent.Sync;
using VgMesh.Client;
using VgMesh.Lvm;
using VgMesh.Agent.Telemetry;

namespace VgMesh.Agent.Api;

/// <summary>The HTTP API. Routes, client methods and CLI verbs share their names.</summary>
public static class Endpoints
{
    public static void Map(WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapMetrics();
        var v1 = app.MapGroup("/v1");
        v1.MapGet("/lvs", (VolumeService s, CancellationToken ct) => s.ListAsync(ct));
        v1.MapGet("/lvs/{name}", (string name, VolumeService s, CancellationToken ct) => s.ShowAsync(name, ct));
        v1.MapPost("/lvs", (CreateLvBody body, VolumeService s, CancellationToken ct) => s.CreateAsync(body, null, ct));
        v1.MapDelete("/lvs/{name}", (string name, string? operationId, VolumeService s, CancellationToken ct) => s.RemoveAsync(name, operationId, null, ct));
        v1.MapPost("/lvs/{name}/extend", (string name, ResizeLvBody body, VolumeService s, CancellationToken ct) => s.ResizeAsync(name, body, grow: true, null, ct));
        v1.MapPost("/lvs/{name}/reduce", (string name, ResizeLvBody body, VolumeService s, CancellationToken ct) => s.ResizeAsync(name, body, grow: false, null, ct));
        v1.MapPost("/lvs/{name}/activate", (string name, ActivateLvBody body, VolumeService s, CancellationToken ct) => s.ActivateAsync(name, body, null, ct));
        v1.MapPost("/lvs/{name}/deactivate", (string name, DeactivateLvBody body, VolumeService s, CancellationToken ct) => s.DeactivateAsync(name, body, null, ct));
        v1.MapPost("/lvs/{name}/rename", (string name, RenameLvBody body, VolumeService s, CancellationToken ct) => s.RenameAsync(name, body, ct));
        v1.MapPost("/lvs/{name}/snapshot", (string name, SnapshotLvBody body, VolumeService s, CancellationToken ct) => s.SnapshotAsync(name, body, null, null, ct));
        v1.MapPost("/lvs/{name}/merge", (string name, MergeLvBody body, VolumeService s, CancellationToken ct) => s.MergeAsync(name, body, ct));
        v1.MapPost("/lvs/{name}/tags", (string name, TagLvBody body, VolumeService s, CancellationToken ct) => s.TagAsync(name, body, null, ct));
        v1.MapPost("/lvs/{name}/unfence", (string name, VolumeService s, CancellationToken ct) => s.UnfenceAsync(name, ct));
        v1.MapGet("/lls/quotas", (VolumeService s, CancellationToken ct) => s.QuotasAsync(ct));
        v1.MapPut("/lls/quotas/{host}/{container}", (string host, string container, LlsQuotaBody body, VolumeService s, CancellationToken ct) => s.SetQuotaAsync(host, container, body, ct));
        v1.MapGet("/hosts", (VolumeService s, CancellationToken ct) => s.HostsAsync(ct));
        v1.MapGet("/hosts/{host}", (string host, VolumeService s, CancellationToken ct) => s.ShowHostAsync(host, ct));
        v1.MapPost("/lvs/{name}/backup", (string name, bool? incremental, bool? fresh, string? cowSize, HttpContext http, BackupService s, CancellationToken ct) =>
            s.BackupAsync(http, name, incremental ?? false, fresh ?? false, cowSize, ct));
        v1.MapGet("/usage", (string? template, bool? here, UsageService s, CancellationToken ct) => s.UsageAsync(template, here ?? false, ct));
        v1.MapPost("/lvs/{name}/sync", (string name, string snapshot, string? format, string? snapback, bool? relayed, HttpContext http, SyncToLvService s, CancellationToken ct) =>
            s.ApplyAsync(http, name, snapshot, format, snapback, relayed ?? false, ct)).WithMetadata(new StreamedBody());
        v1.MapGet("/lvs/{name}/delta", (string name, string? format, HttpContext http, DeltaService s, CancellationToken ct) => s.SendAsync(http, name, format, ct));
        v1.MapGet("/events", (HttpContext http, long? after, bool? follow, VolumeService s, CancellationToken ct) => s.EventsAsync(http, after, follow ?? false, ct));

        // A coordinator hands a step to the host where the LV is active (TCP, with the cluster token).
        v1.MapPost("/internal/steps", async (HttpContext http, StepRunner steps, CancellationToken ct) =>
        {
            using var body = new StreamReader(http.Request.Body);
            var step = PeerClient.Parse(await body.ReadToEndAsync(ct).ConfigureAwait(false));
            return Results.Json(await steps.RunAsync(step, ct).ConfigureAwait(false), AgentJsonContext.Default.StepResult);
        });
        v1.MapGet("/cluster/status", (VolumeService s, CancellationToken ct) => s.StatusAsync(ct));

        // A leak shows in what survives a full collection, not in the resident size (the GC keeps
        // freed memory, the large-object heap is collected only with generation 2). A diagnosis
        // for root on this host only: it pauses the agent for the collection.
        v1.MapPost("/debug/heap", (HttpContext http) =>
        {
            if (http.Connection.LocalPort != 0 || http.Connection.RemoteIpAddress is not null)
            {
                throw new ArgumentException("the heap is measured through this host's Unix socket only: run 'curl --unix-socket /run/vgmesh/vgmeshd.sock -X POST http://x/v1/debug/heap' on it as root");
            }

            var live = GC.GetTotalMemory(forceFullCollection: true);
            var info = GC.GetGCMemoryInfo(GCKind.FullBlocking);
            return Results.Json(new HeapView(live, info.TotalCommittedBytes, GC.GetTotalAllocatedBytes(), GC.CollectionCount(2)), AgentJsonContext.Default.HeapView);
        });
        v1.MapPost("/cluster/form", async (AgentCluster cluster, AgentOptions options, CancellationToken ct) =>
            new OperationView("local", "applied", await cluster.FormAsync(ct).ConfigureAwait(false), 0, 0, options.Host, [options.Host], []));
    }

    /// <summary>The largest request body, but where a call streams data in (<see cref="StreamedBody"/>).</summary>
    public const long MaxBodyBytes = 64 * 1024;

    /// <summary>An endpoint whose body is a stream of data (a delta), not a JSON object: no size limit.</summary>
    private sealed class StreamedBody : Microsoft.AspNetCore.Http.Metadata.IRequestSizeLimitMetadata
    {
        public long? MaxRequestBodySize => null;
    }

    /// <summary>Every error leaves as application/problem+json with a stable code.</summary>
    public static async Task ProblemsAsync(HttpContext context, Func<Task> next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        try
        {
            await next().ConfigureAwait(false);
        }
        catch (Exception e) when (!context.Response.HasStarted && Map(e) is { } p)
        {
            context.Response.StatusCode = p.Status;
            context.Response.ContentType = "application/problem+json";
            await context.Response.WriteAsJsonAsync(p, ApiJsonContext.Default.Problem, "application/problem+json").ConfigureAwait(false);
        }
    }

    private static Problem? Map(Exception e) => e switch
    {
        VolumeException v => P(v.Code, v.Message),
        VgMesh.Sync.SyncException x => P(x.Code, x.Message),
        InvalidLvmNameException n => P("invalid-name", n.Message),
        LvmException l => P(l.Code, l.Message),
        VgMesh.Cluster.Leases.LeaseLostException l => P(NotCoordinator.ErrorCode, new NotCoordinator(l.Message).Message),
        System.Text.Json.JsonException j => P("bad-request", $"the request body is not valid JSON for this call: {j.Message}"),
        BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } => new Problem("https://vgmesh.invalid/problems/too-large", "too-large", 413,
            $"the request body is larger than {MaxBodyBytes / 1024} KiB, more than any call of this API takes; nothing was done", "too-large"),
        BadHttpRequestException b => P("bad-request", $"the request body is not valid: {b.Message}"),
        ArgumentException a => P("bad-request", a.Message),
        _ => null,
    };

    private static Problem P(string code, string detail)
    {
        var status = VolumeException.StatusOf(code);
        return new Problem($"https://vgmesh.invalid/problems/{code}", code, status == 500 && code != "failed" ? 409 : status, detail, code);
    }

    /// <summary>
    /// TCP callers must present the cluster's bearer token; the Unix socket is root-only by its
    /// mode; the metrics port carries only <c>/metrics</c> (see <see cref="MetricsPortOnlyMetrics"/>).
    /// </summary>
    public static Func<HttpContext, Func<Task>, Task> BearerOnTcp(string? token, int? metricsPort) => async (context, next) =>
    {
        var viaTcp = context.Connection.LocalPort != 0 || context.Connection.RemoteIpAddress is IPAddress;
        var metricsPortScrape = metricsPort is { } mp && context.Connection.LocalPort == mp;
        if (viaTcp && !metricsPortScrape && (token is null || context.Request.Headers.Authorization.ToString() != "Bearer " + token))
        {
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            context.Response.ContentType = "application/problem+json";
            await context.Response.WriteAsJsonAsync(new Problem("https://vgmesh.invalid/problems/unauthorized", "unauthorized", 401,
                "a bearer token is required on TCP: pass the cluster token (vgmesh --token-file)", "unauthorized"), ApiJsonContext.Default.Problem, "application/problem+json").ConfigureAwait(false);
            return;
        }

        await next().ConfigureAwait(false);
    };

    /// <summary>The token-less metrics port answers <c>GET /metrics</c> and nothing else.</summary>
    public static Func<HttpContext, Func<Task>, Task> MetricsPortOnlyMetrics(int? metricsPort) => async (context, next) =>
    {
        if (metricsPort is { } mp && context.Connection.LocalPort == mp && !(HttpMethods.IsGet(context.Request.Method) && context.Request.Path == "/metrics"))
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        await next().ConfigureAwait(false);
    };
}
