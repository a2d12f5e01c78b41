using Microsoft.Data.Sqlite;
using VgMesh.Lvm.Commands;

namespace VgMesh.Agent;

/// <summary>
/// This host's journal in SQLite: an intent before each state-changing LVM or dmsetup command,
/// its result after. Unfinished intents found at start are reported (the process died mid-command);
/// the reconciler then repairs whatever state they left.
/// </summary>
public sealed class Journal : IDisposable
{
    private readonly SqliteConnection _db;
    private readonly Lock _gate = new();
    private readonly TimeProvider _time;

    static Journal() => SQLitePCL.Batteries.Init();

    public Journal(string path, TimeProvider time)
    {
        _time = time;
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        _db = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        _db.Open();
        Exec("""
            PRAGMA journal_mode=WAL;
            PRAGMA synchronous=FULL;
            CREATE TABLE IF NOT EXISTS intents (
              id INTEGER PRIMARY KEY AUTOINCREMENT, started TEXT NOT NULL, verb TEXT NOT NULL, subject TEXT NOT NULL,
              command TEXT NOT NULL, token INTEGER NOT NULL, finished TEXT, exit_code INTEGER, result TEXT);
            """);
    }

    public long Begin(string verb, string subject, string command, long token)
    {
        lock (_gate)
        {
            return Scalar("INSERT INTO intents (started, verb, subject, command, token) VALUES ($s, $v, $o, $c, $t) RETURNING id",
                ("$s", _time.GetUtcNow().ToString("O")), ("$v", verb), ("$o", subject), ("$c", command), ("$t", token));
        }
    }

    public void Finish(long id, int exitCode, string result)
    {
        lock (_gate)
        {
            Exec("UPDATE intents SET finished = $f, exit_code = $e, result = $r WHERE id = $id",
                ("$f", _time.GetUtcNow().ToString("O")), ("$e", exitCode), ("$r", result), ("$id", id));
        }
    }

    /// <summary>Intents with no result: their command's effect is unknown until re-read.</summary>
    public IReadOnlyList<(long Id, string Started, string Command)> Unfinished()
    {
        lock (_gate)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = "SELECT id, started, command FROM intents WHERE finished IS NULL ORDER BY id";
            using var r = cmd.ExecuteReader();
            var list = new List<(long, string, string)>();
            while (r.Read())
            {
                list.Add((r.GetInt64(0), r.GetString(1), r.GetString(2)));
            }

            return list;
        }
    }

    /// <summary>Marks unfinished intents as reconciled after a restart, keeping them in the record.</summary>
    public void CloseUnfinished(string note)
    {
        lock (_gate)
        {
            Exec("UPDATE intents SET finished = $f, exit_code = -2, result = $r WHERE finished IS NULL", ("$f", _time.GetUtcNow().ToString("O")), ("$r", note));
        }
    }

    /// <summary>Deletes the entries finished before <paramref name="before"/>; an unfinished one stays until it is closed.</summary>
    public int Prune(DateTimeOffset before)
    {
        lock (_gate)
        {
            using var cmd = _db.CreateCommand();
            // Stamps are round-trip strings of UTC times, so they sort as the times do.
            cmd.CommandText = "DELETE FROM intents WHERE finished IS NOT NULL AND finished < $b";
            cmd.Parameters.AddWithValue("$b", before.ToUniversalTime().ToString("O"));
            return cmd.ExecuteNonQuery();
        }
    }

    public IReadOnlyList<string> Recent(int count)
    {
        lock (_gate)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = "SELECT started || ' ' || command || ' -> ' || coalesce(exit_code, '?') FROM intents ORDER BY id DESC LIMIT $n";
            cmd.Parameters.AddWithValue("$n", count);
            using var r = cmd.ExecuteReader();
            var list = new List<string>();
            while (r.Read())
            {
                list.Add(r.GetString(0));
            }

            return list;
        }
    }

    private void Exec(string sql, params (string, object)[] args)
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = sql;
        foreach (var (n, v) in args)
        {
            cmd.Parameters.AddWithValue(n, v);
        }

        cmd.ExecuteNonQuery();
    }

    private long Scalar(string sql, params (string, object)[] args)
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = sql;
        foreach (var (n, v) in args)
        {
            cmd.Parameters.AddWithValue(n, v);
        }

        return Convert.ToInt64(cmd.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }

    public void Dispose() => _db.Dispose();
}

/// <summary>
/// Journals every state-changing command that passes through the one runner; reports (lvs, vgs,
/// pvs, dmsetup info/table/status) are not journaled.
/// </summary>
public sealed class JournalingLvmRunner(ILvmRunner inner, Journal journal, Telemetry.AgentMetrics metrics) : ILvmRunner
{
    private static readonly HashSet<string> Reads = new(StringComparer.Ordinal) { "lvs", "vgs", "pvs", "info", "table", "status", "ls", "version" };

    public bool? Started(int pid) => inner.Started(pid);

    public async Task<ProcessResult> RunAsync(LvmCommand command, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(command);
        if (Reads.Contains(command.Verb))
        {
            return Measured(command, await inner.RunAsync(command, cancellationToken).ConfigureAwait(false));
        }

        var id = journal.Begin(command.Verb, command.ObjectName, $"{command.Tool.ToString().ToLowerInvariant()} {string.Join(' ', command.Args)}", command.Permit?.FencingToken ?? 0);
        try
        {
            var result = await inner.RunAsync(command, cancellationToken).ConfigureAwait(false);
            journal.Finish(id, result.ExitCode, result.Succeeded ? "ok" : result.StderrSummary);
            return Measured(command, result);
        }
        catch (Exception e)
        {
            journal.Finish(id, -1, e.Message);
            throw;
        }
    }

    private ProcessResult Measured(LvmCommand command, ProcessResult result)
    {
        metrics.LvmCommand(command.Tool.ToString().ToLowerInvariant(), command.Verb, result.Succeeded, result.Duration);
        return result;
    }
}
