using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using VgMesh.Client;

namespace VgMesh.Cli;

/// <summary>What the verbs print: a table or a line for people, the API's JSON with <c>--json</c>.</summary>
internal static class Output
{
    public static async Task<int> PrintAsync<T>(T value, JsonTypeInfo<T> type, bool json, TextWriter stdout, Func<T, string> table)
    {
        await stdout.WriteLineAsync(json ? JsonSerializer.Serialize(value, type) : table(value)).ConfigureAwait(false);
        return ExitCodes.Ok;
    }

    /// <summary>A change: its result, and exit 4 when some hosts had not applied it when the wait ended.</summary>
    public static async Task<int> ChangeAsync(Task<OperationView> call, bool json, TextWriter stdout, TextWriter stderr)
    {
        var op = await call.ConfigureAwait(false);
        await stdout.WriteLineAsync(json ? JsonSerializer.Serialize(op, ApiJsonContext.Default.OperationView)
            : $"{op.Message} (operation {op.Id}, revision {op.Revision}, by {op.CompletedBy}; applied by {string.Join(", ", op.AppliedBy)})").ConfigureAwait(false);
        if (op.Lagging.Count > 0)
        {
            await stderr.WriteLineAsync($"vgmesh: not yet applied by {string.Join(", ", op.Lagging)}; 'vgmesh cluster status' shows their lag").ConfigureAwait(false);
            return ExitCodes.Lagging;
        }

        return ExitCodes.Ok;
    }

    public static string Event(EventView e, bool json) => json ? JsonSerializer.Serialize(e, ApiJsonContext.Default.EventView)
        : $"{e.Time.ToLocalTime():yyyy-MM-dd HH:mm:ss.fff}  rev {e.Revision,-6} {e.Kind,-20} {e.Subject,-24} by {e.Host}{(e.VgSeqno is { } q ? $"  vg_seqno {q}" : "")}{(e.OperationId is { } id ? $"  op {id}" : "")}";

    /// <summary>OWNER: the LLS container (HOST/CONTAINER) an LV belongs to, from its tag.</summary>
    public static string LvTable(List<LvView> lvs) => Table(["NAME", "SIZE", "ATTR", "ACTIVE ON", "CLAIM", "ORIGIN", "DATA%", "OWNER"],
        lvs.Select(l => new[]
        {
            l.Name, SizeSpec.Format(l.SizeBytes), l.Attr, string.Join(",", l.ActiveOn), l.ClaimMode is null ? "-" : $"{l.ClaimMode}{(l.ClaimedBy is null ? "" : ":" + l.ClaimedBy)}",
            l.Origin ?? "", l.DataPercent?.ToString("0.0", CultureInfo.InvariantCulture) ?? "", l.Tags.FirstOrDefault(t => t.StartsWith("lls.owner=", StringComparison.Ordinal))?["lls.owner=".Length..] ?? "",
        }));

    /// <summary>SET: the cluster's limits; CONFIGURED: the host's (only for containers of the answering host); USED: what the container has now.</summary>
    public static string QuotaTable(List<LlsQuotaView> quotas) => Table(["CONTAINER", "BYTES", "VOLUMES", "SNAPSHOTS", "LARGEST SNAPSHOT", "SET IN CLUSTER"],
        quotas.Select(q => new[]
        {
            q.Owner,
            Used(SizeSpec.Format(q.Bytes), q.Effective?.MaxBytes is { } b ? SizeSpec.Format(b) : Unknown(q, "bytes")),
            Used(q.Volumes.ToString(CultureInfo.InvariantCulture), q.Effective?.MaxVolumes?.ToString(CultureInfo.InvariantCulture) ?? Unknown(q, "volumes")),
            Used(q.Snapshots.ToString(CultureInfo.InvariantCulture), q.Effective?.MaxSnapshots?.ToString(CultureInfo.InvariantCulture) ?? Unknown(q, "snapshots")),
            q.Effective?.MaxSnapshotBytes is { } sb ? SizeSpec.Format(sb) : Unknown(q, "snapshot-bytes"),
            q.Set.Count == 0 ? "-" : string.Join(" ", q.Set.Select(kv => $"{kv.Key}={kv.Value}")),
        }));

    private static string Used(string used, string limit) => $"{used} of {limit}";

    /// <summary>No limit when the quota in force is known; else the container's host has the rest of it.</summary>
    private static string Unknown(LlsQuotaView q, string limit) => q.Effective is not null ? "no limit" : q.Set.TryGetValue(limit, out var v) ? v : "(its host's)";

    public static string UsageTable(List<CloneUsageView> clones) => Table(["NAME", "TEMPLATE", "COW", "ALLOCATED", "USE%", "ACTIVE ON"],
        clones.Select(c => new[] { c.Name, c.Template, SizeSpec.Format(c.CowBytes), c.AllocatedBytes is { } a ? SizeSpec.Format(a) : "-", c.Percent?.ToString("0.00", CultureInfo.InvariantCulture) ?? "inactive", c.ActiveOn ?? "-" }));

    /// <summary>The hosts, one line each; a STORAGE column (registration, paths up of all) only where some host reports the shared LUN.</summary>
    public static string HostTable(List<HostView> hosts)
    {
        var storage = hosts.Any(h => h.Storage is not null);
        string[] head = ["HOST", "ALIVE", "MEMBER", "LEADER", "APPLIED", "LAG", "LAG(s)", "ACTIVE", .. (storage ? new[] { "STORAGE" } : []), "ALERTS"];
        return Table(head, hosts.Select(string[] (h) =>
        [
            h.Host, h.Alive ? "yes" : "NO", h.MemberStatus ?? "-", h.Leader ? "*" : "", h.AppliedRevision.ToString(CultureInfo.InvariantCulture), h.LagEvents.ToString(CultureInfo.InvariantCulture),
            h.LagSeconds.ToString("0.0", CultureInfo.InvariantCulture), string.Join(",", h.ActiveLvs), .. (storage ? new[] { StorageCell(h.Storage) } : []),
            h.Alerts.Count == 0 ? "" : string.Join(" | ", h.Alerts),
        ]));
    }

    private static string StorageCell(StorageView? s) =>
        s is null ? "-" : $"{s.Registration}, {s.Paths.Count(p => p.State == "active")}/{s.Paths.Count} paths";

    /// <summary>One host: its line, then the shared LUN as it sees it (each path, its key, who holds the reservation).</summary>
    public static string HostText(HostView h)
    {
        ArgumentNullException.ThrowIfNull(h);
        var lines = new List<string> { HostTable([h]) };
        if (h.Lockd is { } l)
        {
            lines.Add($"lvmlockd ({l.LockType}): host_id {l.HostId?.ToString(CultureInfo.InvariantCulture) ?? "none yet"}, {l.State}" +
                (l.Lockspace is null ? "" : $", lockspace {l.Lockspace}") + (l.At is { } seen ? $" (read {seen.UtcDateTime:HH:mm:ss} UTC)" : ""));
            lines.Add($"  LV locks held: {(l.Exclusive.Count + l.Shared.Count == 0 ? "none" : string.Join(", ", [.. l.Exclusive.Select(x => x + " (ex)"), .. l.Shared.Select(x => x + " (sh)")]))}");
            if (l.RenewedSecondsAgo is { } ago)
            {
                lines.Add(string.Create(CultureInfo.InvariantCulture, $"  sanlock lease renewed {ago:0.#} s before the read{(l.RenewalResult is { } r and not 1 ? $", last renewal failed ({r})" : "")}"));
            }
            if (l.Error is { } error)
            {
                lines.Add($"  {error}");
            }

            foreach (var r in l.Refused ?? [])
            {
                lines.Add($"  refused by lvmlockd at {r.At.UtcDateTime:HH:mm:ss} UTC: {r.Command} ({(r.By == "hand" ? "not vgmesh" : "run by " + r.By)}), {r.Mode} lock of {(r.Lv is { } lv ? "LV " + lv : r.Lock)}: {r.Reason}");
            }
        }

        if (h.Storage is not { } s)
        {
            return string.Join('\n', lines);
        }

        lines.AddRange(
        [
            $"storage {s.Device}: key {s.Key} {s.Registration}" + (s.At is { } at ? $" (read {at.UtcDateTime:HH:mm:ss} UTC)" : ""),
            "  reservation: " + (s.Holder is null ? "none held" : $"{s.Holder}{(s.Holder == s.Key ? " (this host)" : "")}, {s.ReservationType ?? "type unknown"}"),
        ]);
        lines.AddRange(s.Paths.Count == 0 ? ["  paths: not read yet"] : s.Paths.Select(p => $"  path {p.Device}: {p.State} ({p.FailCount} failures)"));
        return string.Join('\n', lines);
    }

    public static string StatusText(ClusterStatusView s) =>
        $"cluster {s.Cluster}, volume group {s.VolumeGroup} (vg_seqno {s.VgSeqno}), coordinator: {s.Leader ?? "NONE"}" +
        (s.Leader is null ? "" : $" (lease generation {s.CoordinatorGeneration}, {s.CoordinatorLeaseSeconds:0.0} s left; {s.PendingOperations} pending; last event {s.LastEvent})") +
        "\n" + HostTable([.. s.Hosts]);

    private static string Table(string[] head, IEnumerable<string[]> rows)
    {
        var all = new List<string[]> { head };
        all.AddRange(rows);
        var widths = head.Select((_, i) => all.Max(r => r[i].Length)).ToArray();
        return string.Join('\n', all.Select(r => string.Join("  ", r.Select((c, i) => c.PadRight(widths[i]))).TrimEnd()));
    }
}
