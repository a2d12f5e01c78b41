using System.Runtime.CompilerServices;

namespace VgMesh.Coordination.Etcd;

/// <summary>The catalog under <c>catalog/</c>; own keys carry this host's session lease.</summary>
public sealed class EtcdCatalog(EtcdClient client, ClusterKeys keys, Func<ISession> session, TimeProvider time) : ICatalog
{
    public async Task<string?> GetAsync(string key, CancellationToken ct = default)
    {
        var kv = (await client.GetAsync(keys.Catalog(key), ct).ConfigureAwait(false)).Kvs.FirstOrDefault();
        return kv is null ? null : Keys.Text(kv.Value);
    }

    public async Task<IReadOnlyDictionary<string, string>> ListAsync(string prefix, CancellationToken ct = default)
    {
        var p = keys.CatalogPrefix(prefix);
        var r = await client.GetPrefixAsync(p, ct: ct).ConfigureAwait(false);
        return r.Kvs.ToDictionary(kv => ClusterKeys.Name(kv.Key, p), kv => Keys.Text(kv.Value), StringComparer.Ordinal);
    }

    public async IAsyncEnumerable<KeyValuePair<string, string?>> WatchAsync(string prefix, [EnumeratorCancellation] CancellationToken ct = default)
    {
        var p = keys.CatalogPrefix(prefix);
        var now = await client.GetPrefixAsync(p, countOnly: true, ct: ct).ConfigureAwait(false);
        while (!ct.IsCancellationRequested)
        {
            var from = now.Header.Revision + 1;
            var stream = EtcdWatcher.WatchPrefixAsync(client, p, from, time, ct).GetAsyncEnumerator(ct);
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
                        // Hints only: start again from now.
                        now = await client.GetPrefixAsync(p, countOnly: true, ct: ct).ConfigureAwait(false);
                        break;
                    }

                    foreach (var e in stream.Current.Events)
                    {
                        yield return new(ClusterKeys.Name(e.Kv.Key, p), e.Type == "DELETE" ? null : Keys.Text(e.Kv.Value));
                    }
                }
            }
            finally
            {
                await stream.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    public Task PublishOwnAsync(string key, string value, CancellationToken ct = default) =>
        client.PutAsync(keys.Catalog(key), Keys.Of(value), session().Id, ct);
}
