using Npgsql;

namespace VgMesh.Cluster.Leases;

/// <summary>Leases in PostgreSQL (a cluster's journal database), on its clock: <c>now()</c>.</summary>
public sealed class PostgresLeaseStore(NpgsqlDataSource db) : ILeaseStore
{
    private const string Table = "vgmesh_lease";

    public async Task InitializeAsync(CancellationToken ct)
    {
        await using var cmd = db.CreateCommand($"""
            CREATE TABLE IF NOT EXISTS {Table} (
              name text PRIMARY KEY,
              owner text NOT NULL,
              generation bigint NOT NULL,
              acquired_at timestamptz NOT NULL,
              expires_at timestamptz NOT NULL)
            """);
        try
        {
            await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }
        catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.UniqueViolation or PostgresErrorCodes.DuplicateTable)
        {
            // Two hosts creating the table at once: the other one won, which is all we need.
        }
    }

    /// <summary>
    /// Takes the lease if it is free (never held, run out, or held by this very owner) and
    /// returns the new generation; null when another owner holds it.
    /// </summary>
    public async Task<long?> TryAcquireAsync(string name, string owner, TimeSpan ttl, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand($"""
            INSERT INTO {Table} AS l (name, owner, generation, acquired_at, expires_at)
            VALUES ($1, $2, 1, now(), now() + $3)
            ON CONFLICT (name) DO UPDATE
              SET owner = excluded.owner, generation = l.generation + 1, acquired_at = now(), expires_at = excluded.expires_at
              WHERE l.expires_at <= now() OR l.owner = excluded.owner
            RETURNING generation
            """);
        cmd.Parameters.Add(new NpgsqlParameter { Value = name });
        cmd.Parameters.Add(new NpgsqlParameter { Value = owner });
        cmd.Parameters.Add(new NpgsqlParameter { Value = ttl });
        var r = await cmd.ExecuteScalarAsync(ct).ConfigureAwait(false);
        return r is long g ? g : null;
    }

    public async Task<bool> RenewAsync(string name, string owner, long generation, TimeSpan ttl, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand($"""
            UPDATE {Table} SET expires_at = now() + $4
            WHERE name = $1 AND owner = $2 AND generation = $3 AND expires_at > now()
            """);
        cmd.Parameters.Add(new NpgsqlParameter { Value = name });
        cmd.Parameters.Add(new NpgsqlParameter { Value = owner });
        cmd.Parameters.Add(new NpgsqlParameter { Value = generation });
        cmd.Parameters.Add(new NpgsqlParameter { Value = ttl });
        return await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false) == 1;
    }

    public async Task<bool> ReleaseAsync(string name, string owner, long generation, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand($"""
            UPDATE {Table} SET expires_at = now()
            WHERE name = $1 AND owner = $2 AND generation = $3 AND expires_at > now()
            """);
        cmd.Parameters.Add(new NpgsqlParameter { Value = name });
        cmd.Parameters.Add(new NpgsqlParameter { Value = owner });
        cmd.Parameters.Add(new NpgsqlParameter { Value = generation });
        return await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false) == 1;
    }

    public async Task<LeaseRow?> ReadAsync(string name, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand($"SELECT name, owner, generation, expires_at - now() FROM {Table} WHERE name = $1");
        cmd.Parameters.Add(new NpgsqlParameter { Value = name });
        await using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        return await r.ReadAsync(ct).ConfigureAwait(false)
            ? new LeaseRow(r.GetString(0), r.GetString(1), r.GetInt64(2), r.GetFieldValue<TimeSpan>(3))
            : null;
    }
}
