using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using VgMesh.Agent.Operations;
using VgMesh.Client;

namespace VgMesh.Agent.Lls;

/// <summary>
/// The containers' doors: one Unix socket per registered container, in its own directory (bound
/// into it at <c>/lls</c>), serving <c>/lls/v1</c> and nothing else. Each connection is
/// identified once, when it is accepted (<see cref="PeerIdentity"/>); the operators' API never
/// answers on these sockets and <c>/lls/v1</c> never answers on the others.
/// </summary>
public static class LlsEndpoints
{
    private const string ConnectionKey = "vgmesh.lls";

    /// <summary>Listens on every registered container's socket (made fresh; the directory is kept, it is bound into the container).</summary>
    public static void Listen(KestrelServerOptions kestrel, AgentOptions options)
    {
        ArgumentNullException.ThrowIfNull(kestrel);
        ArgumentNullException.ThrowIfNull(options);
        foreach (var c in options.Lls.Containers)
        {
            var name = c.Name;
            Directory.CreateDirectory(options.Lls.DirectoryOf(name));
            File.Delete(options.Lls.SocketOf(name));
            kestrel.ListenUnixSocket(options.Lls.SocketOf(name), listen => listen.Use(next => connection =>
            {
                object who;
                try
                {
                    var socket = connection.Features.Get<IConnectionSocketFeature>()?.Socket
                        ?? throw new Forbidden("this connection has no socket to identify its caller by");
                    who = PeerIdentity.Identify(PeerIdentity.PeerPid(socket), name, options.Host, options.Lls);
                }
                catch (Forbidden e)
                {
                    who = e;
                }

                connection.Items[ConnectionKey] = who;
                return next(connection);
            }));
        }
    }

    /// <summary>
    /// After start: the sockets open to every user of the container (who is asking is the
    /// kernel's answer, not the file mode), and the static <c>lls</c> client beside each.
    /// </summary>
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public static void Prepare(AgentOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        foreach (var c in options.Lls.Containers)
        {
            File.SetUnixFileMode(options.Lls.SocketOf(c.Name), (UnixFileMode)0b110_110_110);
            if (File.Exists(options.Lls.ClientPath))
            {
                // Copied beside, then renamed over: a container running the old one keeps it.
                var target = Path.Combine(options.Lls.DirectoryOf(c.Name), "lls");
                File.Copy(options.Lls.ClientPath, target + ".new", overwrite: true);
                File.SetUnixFileMode(target + ".new", (UnixFileMode)0b111_101_101);
                File.Move(target + ".new", target, overwrite: true);
            }
        }
    }

    /// <summary>Keeps the two APIs apart, and hands <c>/lls/v1</c> its caller.</summary>
    public static async Task GateAsync(HttpContext context, Func<Task> next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        var items = context.Features.Get<IConnectionItemsFeature>()?.Items;
        var who = items is not null && items.TryGetValue(ConnectionKey, out var w) ? w : null;
        var llsPath = context.Request.Path.StartsWithSegments("/lls", StringComparison.Ordinal);
        if (who is null && llsPath)
        {
            throw new LvNotFound("", "the LLS API answers only on a container's own socket (/lls/lls.sock inside it).");
        }

        if (who is not null)
        {
            if (!llsPath)
            {
                throw new Forbidden("a container's socket serves the LLS API (/lls/v1) only.");
            }

            context.Items[ConnectionKey] = who is Forbidden f ? throw f : who;
        }

        await next().ConfigureAwait(false);
    }

    private static LlsCaller Caller(HttpContext context) => (LlsCaller)context.Items[ConnectionKey]!;

    public static void Map(WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var lls = app.MapGroup("/lls/v1");
        lls.MapGet("/volumes", (HttpContext h, LlsService s, CancellationToken ct) => s.ListAsync(Caller(h), ct));
        lls.MapPost("/volumes", (LlsCreateBody body, HttpContext h, LlsService s, CancellationToken ct) => s.CreateAsync(Caller(h), body, ct));
        lls.MapPost("/volumes/{name}/snapshot", (string name, LlsSnapshotBody body, HttpContext h, LlsService s, CancellationToken ct) => s.SnapshotAsync(Caller(h), name, body, ct));
        lls.MapPost("/volumes/{name}/resize", (string name, LlsResizeBody body, HttpContext h, LlsService s, CancellationToken ct) => s.ResizeAsync(Caller(h), name, body, ct));
        lls.MapPost("/volumes/{name}/flags", (string name, LlsFlagsBody body, HttpContext h, LlsService s, CancellationToken ct) => s.SetAsync(Caller(h), name, body, ct));
        lls.MapDelete("/volumes/{name}", (string name, HttpContext h, LlsService s, CancellationToken ct) => s.DeleteAsync(Caller(h), name, ct));
    }
}
