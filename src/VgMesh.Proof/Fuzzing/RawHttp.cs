using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace VgMesh.Proof.Fuzzing;

/// <summary>Where the requests go: a TCP address (the operators' API, with its bearer token) or a Unix socket.</summary>
public sealed record Target(string? UnixSocket, string? Host, int Port, string? Token)
{
    public static Target Tcp(string host, int port, string? token) => new(null, host, port, token);

    public static Target Unix(string path) => new(path, null, 0, null);

    public override string ToString() => UnixSocket ?? $"{Host}:{Port}";
}

/// <summary>
/// What came back: the status (0 when the connection closed without an answer), the start of the
/// body as text, and how long it took.
/// </summary>
public sealed record Answer(int Status, string Body, double Milliseconds, bool TimedOut = false)
{
    public string Excerpt(int max = 300) => Body.Length <= max ? Body : Body[..max] + "...";
}

/// <summary>
/// HTTP/1.1 written byte for byte: a fuzzer must be able to send what no HTTP library would
/// (a broken request line, a lying Content-Length, bytes that are not text). One connection per
/// request, closed by the server after its answer.
/// </summary>
public static class RawHttp
{
    private const int KeepBytes = 4096;

    /// <summary>A well-formed request (the hostile part is in what it says, not in how).</summary>
    public static byte[] Request(string method, string target, string? token, string? contentType = null, byte[]? body = null, IEnumerable<string>? headers = null)
    {
        var head = new StringBuilder();
        head.Append(CultureInfo.InvariantCulture, $"{method} {target} HTTP/1.1\r\nHost: vgmesh\r\n");
        if (token is not null)
        {
            head.Append(CultureInfo.InvariantCulture, $"Authorization: Bearer {token}\r\n");
        }

        if (contentType is not null)
        {
            head.Append(CultureInfo.InvariantCulture, $"Content-Type: {contentType}\r\n");
        }

        foreach (var h in headers ?? [])
        {
            head.Append(h).Append("\r\n");
        }

        head.Append(CultureInfo.InvariantCulture, $"Content-Length: {body?.Length ?? 0}\r\nConnection: close\r\n\r\n");
        return [.. Encoding.Latin1.GetBytes(head.ToString()), .. body ?? []];
    }

    /// <summary>
    /// Sends <paramref name="request"/> and reads the answer until the server closes. With
    /// <paramref name="halfClose"/> our side is shut after writing, for requests whose body is
    /// shorter than they claim: the server sees the end instead of waiting for bytes that never come.
    /// </summary>
    public static async Task<Answer> SendAsync(Target target, byte[] request, bool halfClose, TimeSpan timeout, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(request);
        var clock = Stopwatch.StartNew();
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        limit.CancelAfter(timeout);
        using var socket = target.UnixSocket is { } path
            ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
            : new Socket(SocketType.Stream, ProtocolType.Tcp);
        var received = new MemoryStream();
        try
        {
            try
            {
                if (target.UnixSocket is { } p)
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(p), limit.Token).ConfigureAwait(false);
                }
                else
                {
                    await socket.ConnectAsync(target.Host!, target.Port, limit.Token).ConfigureAwait(false);
                }
            }
            catch (SocketException e)
            {
                // Nobody listening (the agent died, or never was there) is an answer too: none.
                return new Answer(0, $"cannot connect: {e.Message}", clock.Elapsed.TotalMilliseconds);
            }

            try
            {
                await socket.SendAsync(request, SocketFlags.None, limit.Token).ConfigureAwait(false);
                if (halfClose)
                {
                    socket.Shutdown(SocketShutdown.Send);
                }
            }
            catch (SocketException)
            {
                // The server may answer (413, 431) and close before it has read all we send.
            }

            var buffer = new byte[16384];
            while (true)
            {
                int n;
                try
                {
                    n = await socket.ReceiveAsync(buffer, SocketFlags.None, limit.Token).ConfigureAwait(false);
                }
                catch (SocketException)
                {
                    break; // reset after (or instead of) an answer: what arrived is the answer
                }

                if (n == 0)
                {
                    break;
                }

                // Only the start is kept: a list can be long, and the verdict needs the status and the code.
                if (received.Length < KeepBytes)
                {
                    received.Write(buffer, 0, Math.Min(n, KeepBytes - (int)received.Length));
                }
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            var (late, partial) = Parse(received.ToArray());
            return new Answer(late, partial, clock.Elapsed.TotalMilliseconds, TimedOut: true);
        }

        var (status, body) = Parse(received.ToArray());
        return new Answer(status, body, clock.Elapsed.TotalMilliseconds);
    }

    /// <summary>The status code of the status line (0 without one) and what follows the headers.</summary>
    public static (int Status, string Body) Parse(byte[] response)
    {
        ArgumentNullException.ThrowIfNull(response);
        var text = Encoding.Latin1.GetString(response);
        var status = 0;
        if (text.StartsWith("HTTP/1.", StringComparison.Ordinal) && text.Length >= 12 &&
            int.TryParse(text.AsSpan(9, 3), NumberStyles.None, CultureInfo.InvariantCulture, out var s))
        {
            status = s;
        }

        var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        return (status, end < 0 ? "" : text[(end + 4)..]);
    }
}
