using VgMesh.Cluster.Leases;

namespace VgMesh.Cluster.Tests.Leases;

/// <summary>The one-host lease, in a SQLite file as the one-host journal is.</summary>
public sealed class SqliteLeaseTests : SqlLeaseContract, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vgmesh-sqlite-lease-").FullName;

    private string ConnectionString => $"Data Source={Path.Combine(_dir, "journal.db")}";

    protected override string ProviderConfig => $"provider = sqlite\nconnection-string = \"{ConnectionString}\"";

    protected override ILeaseStore Store() => new SqliteLeaseStore(ConnectionString);

    public new void Dispose()
    {
        base.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }
}
