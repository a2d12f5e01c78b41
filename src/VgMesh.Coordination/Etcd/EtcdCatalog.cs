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
        await foreach (var (_, changes) in EtcdWatcher.ListThenWatchAsync(client, p, countOnly: true, time, ct).ConfigureAwait(false))
        {
            // Hints only: a listing (at the start, or after a compaction) just says where to watch from.
            foreach (var e in changes?.Events ?? [])
            {
                yield return new(ClusterKeys.Name(e.Kv.Key, p), e.Type == "DELETE" ? null : Keys.Text(e.Kv.Value));
            }
        }
    }

    public Task PublishOwnAsync(string key, string value, CancellationToken ct = default) =>
        client.PutAsync(keys.Catalog(key), Keys.Of(value), session().Id, ct);
}
