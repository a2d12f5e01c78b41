using System.Runtime.CompilerServices;
using System.Text.Json;

namespace VgMesh.Coordination.Etcd;

/// <summary>Members are keys bound to each agent's session lease: a dead agent's key vanishes with its lease.</summary>
public sealed class EtcdMembership(EtcdClient client, ClusterKeys keys, TimeProvider time) : IMembership
{
    internal Task PublishAsync(MemberInfo self, ISession session, CancellationToken ct) =>
        client.PutAsync(keys.Member(self.Host), JsonSerializer.SerializeToUtf8Bytes(self, CoordinationJsonContext.Default.MemberInfo), session.Id, ct);

    public async Task<IReadOnlyList<MemberInfo>> ListAsync(CancellationToken ct = default)
    {
        var r = await client.GetPrefixAsync(keys.MembersPrefix, ct: ct).ConfigureAwait(false);
        return r.Kvs.Select(kv => JsonSerializer.Deserialize(kv.Value, CoordinationJsonContext.Default.MemberInfo)!).OrderBy(m => m.Host, StringComparer.Ordinal).ToList();
    }

    public async IAsyncEnumerable<MembershipChange> WatchAsync([EnumeratorCancellation] CancellationToken ct = default)
    {
        var start = (await client.GetAsync(keys.MembersPrefix, ct).ConfigureAwait(false)).Header.Revision + 1;
        while (true)
        {
            var events = EtcdWatcher.WatchPrefixAsync(client, keys.MembersPrefix, start, time, ct);
            await using var e = events.GetAsyncEnumerator(ct);
            while (true)
            {
                try
                {
                    if (!await e.MoveNextAsync().ConfigureAwait(false))
                    {
                        yield break;
                    }
                }
                catch (EtcdCompactedException)
                {
                    // Missed changes cannot be replayed; continue from now (callers re-list on their own schedule).
                    start = (await client.GetAsync(keys.MembersPrefix, ct).ConfigureAwait(false)).Header.Revision + 1;
                    break;
                }

                foreach (var ev in e.Current.Events)
                {
                    var host = ClusterKeys.Name(ev.Kv.Key, keys.MembersPrefix);
                    if (ev.Type == "DELETE")
                    {
                        yield return new MembershipChange(MembershipChangeKind.Left, host, null);
                    }
                    else if (ev.Kv.Version == 1)
                    {
                        yield return new MembershipChange(MembershipChangeKind.Joined, host, JsonSerializer.Deserialize(ev.Kv.Value, CoordinationJsonContext.Default.MemberInfo));
                    }
                }
            }
        }
    }
}
