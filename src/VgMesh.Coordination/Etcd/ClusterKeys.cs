namespace VgMesh.Coordination.Etcd;

/// <summary>
/// Where a cluster keeps its state in etcd, all under <c>/vgmesh/CLUSTER/</c>: members (with
/// their session lease), the leader election, events, applied marks, and the operation queue
/// (ops, claims, results).
/// </summary>
public sealed class ClusterKeys(string cluster)
{
    public string Root { get; } = $"/vgmesh/{cluster}/";

    public byte[] MembersPrefix => Keys.Of(Root + "members/");

    public byte[] Member(string host) => Keys.Of(Root + "members/" + host);

    public byte[] Election => Keys.Of(Root + "leader");

    public byte[] EventsPrefix => Keys.Of(Root + "events/");

    public byte[] Event(string id) => Keys.Of(Root + "events/" + id);

    public byte[] AppliedPrefix => Keys.Of(Root + "applied/");

    public byte[] Applied(string host) => Keys.Of(Root + "applied/" + host);

    public byte[] OpsPrefix => Keys.Of(Root + "ops/");

    public byte[] Op(string id) => Keys.Of(Root + "ops/" + id);

    public byte[] Claim(string id) => Keys.Of(Root + "claims/" + id);

    public byte[] ClaimsPrefix => Keys.Of(Root + "claims/");

    public byte[] Result(string id) => Keys.Of(Root + "results/" + id);

    public byte[] ResultsPrefix => Keys.Of(Root + "results/");

    public byte[] Catalog(string key) => Keys.Of(Root + "catalog/" + key);

    public byte[] CatalogPrefix(string prefix) => Keys.Of(Root + "catalog/" + prefix);

    /// <summary>The last path element of a key under <paramref name="prefix"/>.</summary>
    public static string Name(byte[] key, byte[] prefix) => Keys.Text(key[prefix.Length..]);
}
