using Microsoft.Data.Sqlite;

namespace VgMesh.Cluster.Leases;

/// <summary>
/// Leases in SQLite, for the one-host install (its journal's database file). The clock is
/// SQLite's own (<c>julianday('now')</c>, in milliseconds since 1970), the same statements as
/// PostgreSQL's in SQLite's dialect (UPSERT with RETURNING, SQLite 3.35 and later).
/// </summary>
public sealed class SqliteLeaseStore(string connectionString) : ILeaseStore
{
    private const string Table = "vgmesh_lease";
    private const string Now = "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)";

    public async Task InitializeAsync(CancellationToken ct)
    {
        await using var c = await OpenAsync(ct).ConfigureAwait(false);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = $"""
            CREATE TABLE IF NOT EXISTS {Table} (
              name TEXT PRIMARY KEY,
              owner TEXT NOT NULL,
              generation INTEGER NOT NULL,
              acquired_at_ms INTEGER NOT NULL,
              expires_at_ms INTEGER NOT NULL)
            """;
        await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }

    public async Task<long?> TryAcquireAsync(string name, string owner, TimeSpan ttl, CancellationToken ct)
    {
        await using var c = await OpenAsync(ct).ConfigureAwait(false);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = $"""
            INSERT INTO {Table} (name, owner, generation, acquired_at_ms, expires_at_ms)
            VALUES ($name, $owner, 1, {Now}, {Now} + $ttl)
            ON CONFLICT (name) DO UPDATE
              SET owner = excluded.owner, generation = {Table}.generation + 1, acquired_at_ms = {Now}, expires_at_ms = excluded.expires_at_ms
              WHERE {Table}.expires_at_ms <= {Now} OR {Table}.owner = excluded.owner
            RETURNING generation
            """;
        cmd.Parameters.AddWithValue("$name", name);
        cmd.Parameters.AddWithValue("$owner", owner);
        cmd.Parameters.AddWithValue("$ttl", (long)ttl.TotalMilliseconds);
        var r = await cmd.ExecuteScalarAsync(ct).ConfigureAwait(false);
        return r is long g ? g : null;
    }

    public Task<bool> RenewAsync(string name, string owner, long generation, TimeSpan ttl, CancellationToken ct) =>
        ChangeOneAsync($"UPDATE {Table} SET expires_at_ms = {Now} + $ttl WHERE name = $name AND owner = $owner AND generation = $generation AND expires_at_ms > {Now}", name, owner, generation, ttl, ct);

    public Task<bool> ReleaseAsync(string name, string owner, long generation, CancellationToken ct) =>
        ChangeOneAsync($"UPDATE {Table} SET expires_at_ms = {Now} WHERE name = $name AND owner = $owner AND generation = $generation AND expires_at_ms > {Now}", name, owner, generation, TimeSpan.Zero, ct);

    /// <summary>Runs an update of this owner's generation; true when it changed the row.</summary>
    private async Task<bool> ChangeOneAsync(string sql, string name, string owner, long generation, TimeSpan ttl, CancellationToken ct)
    {
        await using var c = await OpenAsync(ct).ConfigureAwait(false);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.Parameters.AddWithValue("$name", name);
        cmd.Parameters.AddWithValue("$owner", owner);
        cmd.Parameters.AddWithValue("$generation", generation);
        cmd.Parameters.AddWithValue("$ttl", (long)ttl.TotalMilliseconds);
        return await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false) == 1;
    }

    public async Task<LeaseRow?> ReadAsync(string name, CancellationToken ct)
    {
        await using var c = await OpenAsync(ct).ConfigureAwait(false);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = $"SELECT name, owner, generation, expires_at_ms - {Now} FROM {Table} WHERE name = $name";
        cmd.Parameters.AddWithValue("$name", name);
        await using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        return await r.ReadAsync(ct).ConfigureAwait(false)
            ? new LeaseRow(r.GetString(0), r.GetString(1), r.GetInt64(2), TimeSpan.FromMilliseconds(r.GetInt64(3)))
            : null;
    }

    private async Task<SqliteConnection> OpenAsync(CancellationToken ct)
    {
        var c = new SqliteConnection(connectionString);
        await c.OpenAsync(ct).ConfigureAwait(false);
        await using var busy = c.CreateCommand();
        // The journal shares the file; wait for its writes instead of failing at once.
        busy.CommandText = "PRAGMA busy_timeout = 2000";
        await busy.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        return c;
    }
}
