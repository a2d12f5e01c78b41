using System.Runtime.CompilerServices;

namespace VgMesh.Coordination.Etcd;

/// <summary>
/// A prefix watch that survives broken streams and dead members: it reopens from the revision
/// after the last one it delivered, so nothing is missed or repeated. A compacted start revision
/// surfaces as <see cref="EtcdCompactedException"/>: only the caller knows how to re-list.
/// </summary>
internal static class EtcdWatcher
{
    public static async IAsyncEnumerable<WatchResponse> WatchPrefixAsync(
        EtcdClient client, byte[] prefix, long fromRevision, TimeProvider time, [EnumeratorCancellation] CancellationToken ct)
    {
        var next = fromRevision;
        var backoff = TimeSpan.FromMilliseconds(50);
        while (!ct.IsCancellationRequested)
        {
            var request = new WatchCreateRequest { Key = prefix, RangeEnd = Keys.PrefixEnd(prefix), StartRevision = next };
            var stream = client.WatchAsync(request, ct).GetAsyncEnumerator(ct);
            try
            {
                while (true)
                {
                    WatchResponse r;
                    try
                    {
                        if (!await stream.MoveNextAsync().ConfigureAwait(false))
                        {
                            break;
                        }

                        r = stream.Current;
                    }
                    catch (EtcdException e) when (e is not EtcdCompactedException && !ct.IsCancellationRequested)
                    {
                        break; // reopen below, from `next`
                    }
                    catch (HttpRequestException) when (!ct.IsCancellationRequested)
                    {
                        break;
                    }

                    backoff = TimeSpan.FromMilliseconds(50);
                    if (r.Events.Count > 0)
                    {
                        next = r.Events[^1].Kv.ModRevision + 1;
                        yield return r;
                    }
                }
            }
            finally
            {
                await stream.DisposeAsync().ConfigureAwait(false);
            }

            await Task.Delay(backoff, time, ct).ConfigureAwait(false);
            backoff = TimeSpan.FromMilliseconds(Math.Min(backoff.TotalMilliseconds * 2, 1000));
        }
    }

    /// <summary>
    /// The prefix as it is now, then every change to it: a listing first (with values unless
    /// <paramref name="countOnly"/>), and again whenever the revision to watch from has been
    /// compacted (what changed meanwhile is in the new listing), each followed by the changes after it.
    /// </summary>
    public static async IAsyncEnumerable<(RangeResponse? Listing, WatchResponse? Changes)> ListThenWatchAsync(
        EtcdClient client, byte[] prefix, bool countOnly, TimeProvider time, [EnumeratorCancellation] CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            var listed = await client.GetPrefixAsync(prefix, countOnly: countOnly, ct: ct).ConfigureAwait(false);
            yield return (listed, null);
            var stream = WatchPrefixAsync(client, prefix, listed.Header.Revision + 1, time, ct).GetAsyncEnumerator(ct);
            try
            {
                while (true)
                {
                    try
                    {
                        if (!await stream.MoveNextAsync().ConfigureAwait(false))
                        {
                            yield break;
                        }
                    }
                    catch (EtcdCompactedException)
                    {
                        break; // list again
                    }

                    yield return (null, stream.Current);
                }
            }
            finally
            {
                await stream.DisposeAsync().ConfigureAwait(false);
            }
        }
    }
}
