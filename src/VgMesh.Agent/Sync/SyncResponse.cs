using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using VgMesh.Lvm;

namespace VgMesh.Agent.Sync;

/// <summary>What the delta and backup routes share: the devices they read, and how they stream a body.</summary>
internal static class SyncResponse
{
    /// <summary>An LV's device-mapper node (LVM's own name, read by this host's kernel).</summary>
    public static string Device(string vg, string lv) => $"/dev/mapper/{LvRef.DmNameOf(vg, lv)}";

    /// <summary>
    /// Runs a synchronous block-I/O writer on a pool thread, straight into the response body.
    /// A failure once part of the body is out cuts the connection, so the reader sees a
    /// truncated stream, never an end.
    /// </summary>
    public static async Task WriteAsync(HttpContext http, Action<Stream> write, CancellationToken ct)
    {
        http.Features.Get<IHttpBodyControlFeature>()!.AllowSynchronousIO = true;
        try
        {
            await Task.Run(() =>
            {
                using var body = new BufferedStream(http.Response.Body, 1 << 20);
                write(body);
            }, ct).ConfigureAwait(false);
        }
        catch (Exception) when (http.Response.HasStarted)
        {
            http.Abort();
            throw;
        }
    }
}
