using System.Globalization;
using VgMesh.Lvm.Commands;

namespace VgMesh.Lvm.Scsi;

/// <summary>A SCSI-3 persistent reservation key: eight bytes, written as <c>0x</c> and 16 hex digits.</summary>
public readonly record struct ReservationKey(ulong Value)
{
    /// <summary>
    /// The key vgmesh registers for a host: "vm" in the top two bytes (so an operator reading
    /// <c>sg_persist --in --read-keys</c> tells vgmesh's keys from others'), then 48 bits of the
    /// FNV-1a hash of the cluster's and the host's names. Any host computes any other's key, so
    /// the coordinator can preempt a host that never reported; two hosts of one cluster share a
    /// key with a chance of about n²/2⁴⁹.
    /// </summary>
    public static ReservationKey For(string cluster, string host)
    {
        ArgumentException.ThrowIfNullOrEmpty(cluster);
        ArgumentException.ThrowIfNullOrEmpty(host);
        var hash = 14695981039346656037UL;
        foreach (var b in System.Text.Encoding.UTF8.GetBytes($"{cluster}/{host}"))
        {
            hash = (hash ^ b) * 1099511628211UL;
        }

        return new ReservationKey(0x766D_0000_0000_0000UL | (hash & 0x0000_FFFF_FFFF_FFFFUL));
    }

    public static ReservationKey Parse(string text)
    {
        var t = text.Trim();
        if (!t.StartsWith("0x", StringComparison.OrdinalIgnoreCase) || t.Length is < 3 or > 18 ||
            !ulong.TryParse(t.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var v) || v == 0)
        {
            throw new FormatException($"'{text}' is not a reservation key: write 0x and 1-16 hex digits, not zero");
        }

        return new ReservationKey(v);
    }

    public override string ToString() => $"0x{Value:x16}";
}

/// <summary>The LUN's registrations and reservation, as one read found them.</summary>
/// <param name="Keys">Every registration (one per I_T nexus: a host registered over two paths appears twice).</param>
/// <param name="Holder">The reservation holder's key; null when none is held.</param>
/// <param name="Type">The reservation's type as the target words it ("Write Exclusive, registrants only"); null when none is held.</param>
public sealed record ReservationState(IReadOnlyList<ReservationKey> Keys, ReservationKey? Holder, string? Type)
{
    public bool IsRegistered(ReservationKey key) => Keys.Contains(key);
}

/// <summary>
/// SCSI-3 persistent reservations on the shared LUN's multipath device, through
/// <c>mpathpersist</c> (multipath-tools), which sends each command down every path: a
/// registration is per I_T nexus, so a host registers on each of its paths. The fence is the
/// reservation type "write exclusive, registrants only" (type 5, as Pacemaker's fence_mpath):
/// every registered host writes, any other host only reads, and preempting a host's key
/// removes its registrations, after which the target refuses its writes on every path whatever
/// state the host is in.
/// </summary>
public sealed class PersistentReservations(ILvmRunner runner)
{
    /// <summary>Write Exclusive, Registrants Only.</summary>
    public const int WriteExclusiveRegistrantsOnly = 5;

    // Set once a target refused PREEMPT AND ABORT: later fences go straight to PREEMPT (each
    // mpathpersist run costs about 0.3 s in a lab host, and a fence is on the takeover's path).
    private volatile bool _noAbort;

    public async Task<ReservationState> ReadAsync(string device, CancellationToken ct)
    {
        var keys = await RunAsync(device, ["--read-keys", "--in"], null, ct).ConfigureAwait(false);
        var reservation = await RunAsync(device, ["--read-reservation", "--in"], null, ct).ConfigureAwait(false);
        var (holder, type) = ParseReservation(reservation);
        return new ReservationState(ParseKeys(keys), holder, type);
    }

    /// <summary>Registers <paramref name="key"/> on every path, whatever key (if any) the host had (REGISTER AND IGNORE EXISTING KEY).</summary>
    public Task RegisterAsync(string device, ReservationKey key, CancellationToken ct) =>
        RunAsync(device, ["--register-ignore", "--out", $"--param-sark={key}"], null, ct);

    /// <summary>Takes the reservation (type 5) for <paramref name="key"/>, which must be registered.</summary>
    public Task ReserveAsync(string device, ReservationKey key, CancellationToken ct) =>
        RunAsync(device, ["--reserve", "--out", $"--param-rk={key}", $"--prout-type={WriteExclusiveRegistrantsOnly}"], null, ct);

    /// <summary>
    /// Removes <paramref name="victim"/>'s registrations (and takes its reservation, if it held
    /// it): from then on the target refuses the victim's writes. PREEMPT AND ABORT first (it also
    /// aborts the victim's commands queued at the target); a target without it (Linux tgtd) gets
    /// PREEMPT, and the answer says which one ran.
    /// </summary>
    /// <param name="permit">The coordinator's lease, checked right before each command (a preemption is a write to the LUN's state, fenced like a metadata write).</param>
    /// <returns>"preempt-abort" or "preempt".</returns>
    public async Task<string> PreemptAsync(string device, ReservationKey own, ReservationKey victim, MetadataWritePermit permit, CancellationToken ct)
    {
        string[] args = ["--out", $"--param-rk={own}", $"--param-sark={victim}", $"--prout-type={WriteExclusiveRegistrantsOnly}"];
        if (!_noAbort)
        {
            try
            {
                await RunAsync(device, ["--preempt-abort", .. args], permit, ct).ConfigureAwait(false);
                return "preempt-abort";
            }
            catch (LvmCommandException)
            {
                _noAbort = true;
            }
        }

        await RunAsync(device, ["--preempt", .. args], permit, ct).ConfigureAwait(false);
        return "preempt";
    }

    // The action first: it is the command's verb in the journal and the metrics.
    private async Task<string> RunAsync(string device, IReadOnlyList<string> args, MetadataWritePermit? permit, CancellationToken ct)
    {
        var command = new LvmCommand(LvmTool.Mpathpersist, [.. args, device], device, WritesMetadata: permit is not null, Permit: permit);
        var r = await runner.RunAsync(command, ct).ConfigureAwait(false);
        return r.Succeeded ? r.Stdout : throw new LvmCommandException(r);
    }

    /// <summary>Parses <c>mpathpersist --in --read-keys</c>: one <c>0x...</c> line per registration.</summary>
    public static IReadOnlyList<ReservationKey> ParseKeys(string text) =>
        [.. text.Split('\n').Select(l => l.Trim()).Where(l => l.StartsWith("0x", StringComparison.OrdinalIgnoreCase)).Select(ReservationKey.Parse)];

    /// <summary>Parses <c>mpathpersist --in --read-reservation</c>: the holder's key and the type, or none.</summary>
    public static (ReservationKey? Holder, string? Type) ParseReservation(string text)
    {
        ReservationKey? holder = null;
        string? type = null;
        foreach (var line in text.Split('\n').Select(l => l.Trim()))
        {
            if (line.StartsWith("Key = ", StringComparison.Ordinal))
            {
                holder = ReservationKey.Parse(line["Key = ".Length..]);
            }
            else if (line.StartsWith("scope = ", StringComparison.Ordinal) && line.IndexOf("type = ", StringComparison.Ordinal) is var at and >= 0)
            {
                type = line[(at + "type = ".Length)..].Trim();
            }
        }

        return holder is null ? (null, null) : (holder, type);
    }
}
