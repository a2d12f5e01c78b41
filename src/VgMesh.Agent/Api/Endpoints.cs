using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using VgMesh.Agent.Operations;
using VgMesh.Client;
using VgMesh.Coordination;
using VgMesh.Coordination.Etcd;
using VgMesh.Lvm;

namespace VgMesh.Agent.Api;

/// <summary>The HTTP API. Routes, client methods and CLI verbs share their names.</summary>
public static class Endpoints
{
    public static void Map(WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var v1 = app.MapGroup("/v1");
        v1.MapGet("/lvs", (VolumeService s, CancellationToken ct) => s.ListAsync(ct));
        v1.MapGet("/lvs/{name}", (string name, VolumeService s, CancellationToken ct) => s.ShowAsync(name, ct));
        v1.MapPost("/lvs", (CreateLvBody body, VolumeService s, CancellationToken ct) => s.CreateAsync(body, ct));
        v1.MapDelete("/lvs/{name}", (string name, string? operationId, VolumeService s, CancellationToken ct) => s.RemoveAsync(name, operationId, ct));
        v1.MapPost("/lvs/{name}/extend", (string name, ResizeLvBody body, VolumeService s, CancellationToken ct) => s.ResizeAsync(name, body, grow: true, ct));
        v1.MapPost("/lvs/{name}/reduce", (string name, ResizeLvBody body, VolumeService s, CancellationToken ct) => s.ResizeAsync(name, body, grow: false, ct));
        v1.MapPost("/lvs/{name}/activate", (string name, ActivateLvBody body, VolumeService s, CancellationToken ct) => s.ActivateAsync(name, body, ct));
        v1.MapPost("/lvs/{name}/deactivate", (string name, DeactivateLvBody body, VolumeService s, CancellationToken ct) => s.DeactivateAsync(name, body, ct));
        v1.MapPost("/lvs/{name}/unfence", (string name, VolumeService s, CancellationToken ct) => s.UnfenceAsync(name, ct));
        v1.MapGet("/hosts", (VolumeService s, CancellationToken ct) => s.HostsAsync(ct));
        v1.MapGet("/cluster/status", (VolumeService s, CancellationToken ct) => s.StatusAsync(ct));
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
        OperationFailedException f => P(f.Code, f.Message),
        InvalidLvmNameException n => P("invalid-name", n.Message),
        LvmException l => P(l.Code, l.Message),
        NotLeaderException n => P("not-leader", n.Message),
        EtcdException x => P("cluster-unavailable", $"the cluster store is unreachable: {x.Message}"),
        InvalidOperationException { Message: var m } when m.Contains("joining", StringComparison.Ordinal) => P("cluster-unavailable", m),
        BadHttpRequestException b => P("bad-request", $"the request body is not valid: {b.Message}"),
        ArgumentException a => P("bad-request", a.Message),
        _ => null,
    };

    private static Problem P(string code, string detail)
    {
        var status = OperationFailedException.StatusOf(code);
        return new Problem($"https://vgmesh.invalid/problems/{code}", code, status == 500 && code != "failed" ? 409 : status, detail, code);
    }

    /// <summary>TCP callers must present the cluster's bearer token; the Unix socket is root-only by its mode.</summary>
    public static Func<HttpContext, Func<Task>, Task> BearerOnTcp(string? token) => async (context, next) =>
    {
        var viaTcp = context.Connection.LocalPort != 0 || context.Connection.RemoteIpAddress is IPAddress;
        if (viaTcp && (token is null || context.Request.Headers.Authorization.ToString() != "Bearer " + token))
        {
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            context.Response.ContentType = "application/problem+json";
            await context.Response.WriteAsJsonAsync(new Problem("https://vgmesh.invalid/problems/unauthorized", "unauthorized", 401,
                "a bearer token is required on TCP: pass the cluster token (vgmesh --token-file)", "unauthorized"), ApiJsonContext.Default.Problem, "application/problem+json").ConfigureAwait(false);
            return;
        }

        await next().ConfigureAwait(false);
    };
}
