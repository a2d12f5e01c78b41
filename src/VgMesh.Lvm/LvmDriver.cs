using System.Globalization;
using VgMesh.Lvm.Commands;
using VgMesh.Lvm.Reports;

namespace VgMesh.Lvm;

/// <summary>
/// Typed LVM operations over the one <see cref="ILvmRunner"/>. Every name is validated before a
/// process starts (<see cref="LvRef"/>); every metadata write needs a <see cref="MetadataWritePermit"/>;
/// every failure arrives as a typed <see cref="LvmException"/>.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001", Justification = "Its one SemaphoreSlim holds no handle: AvailableWaitHandle is never read.")]
public sealed partial class LvmDriver(ILvmRunner runner)
{
    // ---------------------------------------------------------------- reports

    public async Task<IReadOnlyList<VolumeGroup>> ListVgsAsync(CancellationToken ct = default) =>
        ReportParser.ParseVgs(await ReadAsync(["vgs", .. ReportColumns.Format, "-o", ReportColumns.Vg], "volume groups", ct).ConfigureAwait(false));

    public async Task<VolumeGroup> GetVgAsync(string vg, CancellationToken ct = default)
    {
        LvmNames.ValidateVg(vg);
        var json = await ReadAsync(["vgs", .. ReportColumns.Format, "-o", ReportColumns.Vg, "--", vg], vg, ct).ConfigureAwait(false);
        return ReportParser.ParseVgs(json).SingleOrDefault() ?? throw new LvmNotFoundException(vg);
    }

    public async Task<IReadOnlyList<PhysicalVolume>> ListPvsAsync(CancellationToken ct = default) =>
        ReportParser.ParsePvs(await ReadAsync(["pvs", .. ReportColumns.Format, "-o", ReportColumns.Pv], "physical volumes", ct).ConfigureAwait(false));

    /// <summary>Every LV of the VG, hidden ones included (pool data, metadata spares).</summary>
    public async Task<IReadOnlyList<LogicalVolume>> ListLvsAsync(string vg, CancellationToken ct = default)
    {
        LvmNames.ValidateVg(vg);
        return ReportParser.ParseLvs(await ReadAsync(["lvs", "-a", .. ReportColumns.Format, "-o", ReportColumns.Lv, "--", vg], vg, ct).ConfigureAwait(false));
    }

    /// <summary>
    /// The LVs of <paramref name="vg"/> and, from the same report, the VG itself: what a reconcile
    /// pass reads, in one LVM process instead of an lvs and a vgs (a VG with no LV reports no VG
    /// row; a vgs reads it then).
    /// </summary>
    public async Task<(IReadOnlyList<LogicalVolume> Lvs, VolumeGroup Vg)> ListLvsWithVgAsync(string vg, CancellationToken ct = default)
    {
        LvmNames.ValidateVg(vg);
        var json = await ReadAsync(["lvs", "-a", .. ReportColumns.Format, "-o", ReportColumns.Lv + "," + ReportColumns.VgOfLv, "--", vg], vg, ct).ConfigureAwait(false);
        return (ReportParser.ParseLvs(json), ReportParser.ParseVgOfLvs(json) ?? await GetVgAsync(vg, ct).ConfigureAwait(false));
    }

    public async Task<LogicalVolume> GetLvAsync(LvRef lv, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(lv);
        var json = await ReadAsync(["lvs", .. ReportColumns.Format, "-o", ReportColumns.Lv, "--", lv.FullName], lv.FullName, ct).ConfigureAwait(false);
        return ReportParser.ParseLvs(json).SingleOrDefault() ?? throw new LvmNotFoundException(lv.FullName);
    }

    /// <summary>The thin ids (<c>lvs -o thin_id</c>) of <paramref name="lvs"/>, thin volumes of <paramref name="vg"/>.</summary>
    public async Task<IReadOnlyDictionary<string, long>> ThinIdsAsync(string vg, IReadOnlyList<string> lvs, CancellationToken ct = default)
    {
        LvmNames.ValidateVg(vg);
        ArgumentNullException.ThrowIfNull(lvs);
        return ParseThinIds(await ReadAsync(["lvs", "--noheadings", "--separator", ",", "-o", "lv_name,thin_id", "--", .. lvs.Select(lv => new LvRef(vg, lv).FullName)], vg, ct).ConfigureAwait(false));
    }

    /// <summary>Lines of <c>NAME,ID</c>; a thin volume without an id (none yet, or not thin) is left out.</summary>
    public static IReadOnlyDictionary<string, long> ParseThinIds(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = line.Split(',', StringSplitOptions.TrimEntries);
            if (parts.Length == 2 && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var id))
            {
                ids[parts[0]] = id;
            }
        }

        return ids;
    }

    // ---------------------------------------------------------------- metadata writes

    public Task<long?> CreateLvAsync(CreateLvRequest request, MetadataWritePermit permit, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var args = new List<string> { "lvcreate", "--yes", "--name", request.Lv.Lv, "--size", Bytes(request.SizeBytes) };
        foreach (var tag in request.Tags ?? [])
        {
            args.AddRange(["--addtag", LvmNames.ValidateTag(tag)]);
        }

        if (!request.Activate)
        {
            args.AddRange(["--activate", "n", "--zero", "n"]);
        }

        args.AddRange(["--", request.Lv.Vg]);
        return WriteAsync(args, request.Lv.FullName, permit, ct);
    }

    /// <summary>Removes an LV. Never forced: an LV open on this host fails with <see cref="LvmInUseException"/>.</summary>
    public Task<long?> RemoveLvAsync(LvRef lv, MetadataWritePermit permit, CancellationToken ct = default) =>
        WriteAsync(["lvremove", "--yes", "--", Full(lv)], lv.FullName, permit, ct);

    /// <summary>Grows the LV to an absolute size, so a replayed request changes nothing more.</summary>
    public Task<long?> ExtendLvAsync(LvRef lv, long newSizeBytes, MetadataWritePermit permit, CancellationToken ct = default) =>
        ExtendLvAsync(lv, newSizeBytes, permit, metadataOnly: false, sharedUpdate: false, ct);

    /// <param name="metadataOnly">
    /// Only the metadata (<c>--driverloaded n</c>: LVM touches no device); the caller brings the
    /// tables. For a classic snapshot's store, which grows without LVM's suspend of its origin.
    /// </param>
    /// <param name="sharedUpdate">
    /// lvmlockd: the LV is active shared (this host holds its lock <c>sh</c>, others may too), which
    /// lvextend's exclusive lock would refuse; <c>--lockopt shupdate</c> extends it under the shared
    /// lock, growing this host's table only: the caller has every other holder refresh.
    /// </param>
    public Task<long?> ExtendLvAsync(LvRef lv, long newSizeBytes, MetadataWritePermit permit, bool metadataOnly, bool sharedUpdate, CancellationToken ct = default) =>
        WriteAsync(["lvextend", .. MetadataOnly(metadataOnly), .. SharedUpdate(sharedUpdate), "--size", Bytes(newSizeBytes), "--", Full(lv)], lv.FullName, permit, ct);

    /// <summary>
    /// Grows the LV by a number of bytes, read and written under LVM's own VG lock (no report
    /// before it, and a change made meanwhile by hand is not overwritten).
    /// </summary>
    public Task<long?> ExtendLvByAsync(LvRef lv, long deltaBytes, MetadataWritePermit permit, CancellationToken ct = default) =>
        ExtendLvByAsync(lv, deltaBytes, permit, metadataOnly: false, sharedUpdate: false, ct);

    /// <param name="metadataOnly">As for <see cref="ExtendLvAsync(LvRef, long, MetadataWritePermit, bool, bool, CancellationToken)"/>.</param>
    /// <param name="sharedUpdate">As there.</param>
    public Task<long?> ExtendLvByAsync(LvRef lv, long deltaBytes, MetadataWritePermit permit, bool metadataOnly, bool sharedUpdate, CancellationToken ct = default) =>
        WriteAsync(["lvextend", .. MetadataOnly(metadataOnly), .. SharedUpdate(sharedUpdate), "--size", "+" + Bytes(deltaBytes), "--", Full(lv)], lv.FullName, permit, ct);

    private static string[] MetadataOnly(bool yes) => yes ? ["--driverloaded", "n"] : [];

    private static string[] SharedUpdate(bool yes) => yes ? ["--lockopt", "shupdate"] : [];

    /// <summary>Shrinks the LV to an absolute size. Data past the new end is lost; callers confirm before.</summary>
    public Task<long?> ReduceLvAsync(LvRef lv, long newSizeBytes, MetadataWritePermit permit, CancellationToken ct = default) =>
        WriteAsync(["lvreduce", "--yes", "--size", Bytes(newSizeBytes), "--", Full(lv)], lv.FullName, permit, ct);

    public Task<long?> RenameLvAsync(LvRef lv, string newName, MetadataWritePermit permit, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(lv);
        LvmNames.ValidateLv(newName);
        return WriteAsync(["lvrename", "--", lv.Vg, lv.Lv, newName], lv.FullName, permit, ct);
    }

    /// <summary>
    /// A classic (COW) snapshot when <paramref name="sizeBytes"/> is given: run it on the host
    /// where the origin is active. Without a size, a thin snapshot of a thin origin, in its pool:
    /// run it where the pool is active. A thin snapshot is made inactive and without LVM's
    /// activation skip flag, so it activates like any LV once an operator claims it.
    /// </summary>
    public Task<long?> CreateSnapshotAsync(LvRef origin, string name, long? sizeBytes, long? chunkBytes, IReadOnlyList<string>? tags, MetadataWritePermit permit, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(origin);
        LvmNames.ValidateLv(name);
        var args = new List<string> { "lvcreate", "--yes", "--snapshot", "--name", name };
        if (sizeBytes is { } size)
        {
            args.AddRange(["--size", Bytes(size)]);
        }
        else if (chunkBytes is not null)
        {
            throw new ArgumentException($"a thin snapshot ('{origin.Vg}/{name}') takes its pool's chunk size; give no chunk size", nameof(chunkBytes));
        }
        else
        {
            args.AddRange(["--setactivationskip", "n", "--activate", "n"]);
        }

        if (chunkBytes is { } chunk)
        {
            // dm-snapshot chunks: a power of two from 4 KiB to 512 KiB.
            if (chunk < 4096 || chunk > 512 * 1024 || (chunk & (chunk - 1)) != 0)
            {
                throw new ArgumentOutOfRangeException(nameof(chunkBytes), chunk, $"snapshot chunk size of '{origin.Vg}/{name}' must be a power of two from 4 KiB to 512 KiB");
            }

            args.AddRange(["--chunksize", Bytes(chunk)]);
        }

        foreach (var tag in tags ?? [])
        {
            args.AddRange(["--addtag", LvmNames.ValidateTag(tag)]);
        }

        args.AddRange(["--", origin.FullName]);
        return WriteAsync(args, $"{origin.Vg}/{name}", permit, ct);
    }

    /// <summary>Merges a snapshot back into its origin; deferred by LVM to the next activation while the origin is open.</summary>
    public Task<long?> MergeSnapshotAsync(LvRef snapshot, MetadataWritePermit permit, CancellationToken ct = default) =>
        WriteAsync(["lvconvert", "--merge", "--", Full(snapshot)], snapshot.FullName, permit, ct);

    public Task<long?> AddTagAsync(LvRef lv, string tag, MetadataWritePermit permit, CancellationToken ct = default) =>
        WriteAsync(["lvchange", "--addtag", LvmNames.ValidateTag(tag), "--", Full(lv)], lv.FullName, permit, ct);

    /// <summary>Puts tags on and takes tags off in one metadata write (no table changes anywhere).</summary>
    public Task<long?> ChangeTagsAsync(LvRef lv, IReadOnlyList<string> add, IReadOnlyList<string> remove, MetadataWritePermit permit, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(lv);
        return WriteAsync(TagArgs("lvchange", add, remove, Full(lv)), lv.FullName, permit, ct);
    }

    /// <summary>The same for the VG's own tags (settings every host reads from the shared metadata).</summary>
    public Task<long?> ChangeVgTagsAsync(string vg, IReadOnlyList<string> add, IReadOnlyList<string> remove, MetadataWritePermit permit, CancellationToken ct = default)
    {
        LvmNames.ValidateVg(vg);
        return WriteAsync(TagArgs("vgchange", add, remove, vg), vg, permit, ct);
    }

    private static List<string> TagArgs(string command, IReadOnlyList<string> add, IReadOnlyList<string> remove, string target)
    {
        ArgumentNullException.ThrowIfNull(add);
        ArgumentNullException.ThrowIfNull(remove);
        var args = new List<string> { command };
        foreach (var tag in add)
        {
            args.AddRange(["--addtag", LvmNames.ValidateTag(tag)]);
        }

        foreach (var tag in remove)
        {
            args.AddRange(["--deltag", LvmNames.ValidateTag(tag)]);
        }

        args.AddRange(["--", target]);
        return args;
    }

    public Task<long?> RemoveTagAsync(LvRef lv, string tag, MetadataWritePermit permit, CancellationToken ct = default) =>
        WriteAsync(["lvchange", "--deltag", LvmNames.ValidateTag(tag), "--", Full(lv)], lv.FullName, permit, ct);

    public Task<long?> SetReadOnlyAsync(LvRef lv, bool readOnly, MetadataWritePermit permit, CancellationToken ct = default) =>
        WriteAsync(["lvchange", "--permission", readOnly ? "r" : "rw", "--", Full(lv)], lv.FullName, permit, ct);

    // ---------------------------------------------------------------- this host's device-mapper state (no metadata)

    public Task ActivateAsync(LvRef lv, ActivationMode mode = ActivationMode.Default, CancellationToken ct = default)
    {
        var flag = mode switch
        {
            ActivationMode.Exclusive => "ey",
            ActivationMode.Shared => "sy",
            ActivationMode.Local => "ly",
            _ => "y",
        };
        return LocalAsync(["lvchange", "--activate", flag, "--", Full(lv)], lv.FullName, ct);
    }

    /// <summary>Deactivates on this host; fails with <see cref="LvmInUseException"/> while open.</summary>
    public Task DeactivateAsync(LvRef lv, CancellationToken ct = default) =>
        LocalAsync(["lvchange", "--activate", "n", "--", Full(lv)], lv.FullName, ct);

    /// <summary>Reloads this host's tables from the metadata: what a peer must do after another host's resize.</summary>
    public Task RefreshAsync(LvRef lv, CancellationToken ct = default) =>
        LocalAsync(["lvchange", "--refresh", "--", Full(lv)], lv.FullName, ct);

    // ---------------------------------------------------------------- lvmlockd (a shared VG)

    /// <summary>
    /// Joins this host to the VG's lockspace (<c>vgchange --lock-start</c>): waits until the locks
    /// are usable. No metadata is written; repeating it on a started lockspace changes nothing.
    /// </summary>
    public Task LockStartAsync(string vg, CancellationToken ct = default) =>
        LocalAsync(["vgchange", "--lock-start", "--", LvmNames.ValidateVg(vg)], vg, ct);

    /// <summary>Leaves the VG's lockspace; LVM refuses while an LV of the VG is active here.</summary>
    public Task LockStopAsync(string vg, CancellationToken ct = default) =>
        LocalAsync(["vgchange", "--lock-stop", "--", LvmNames.ValidateVg(vg)], vg, ct);

    /// <summary>
    /// The sanlock resource of an LV's lock in an lvmlockd VG (its uuid, and the offset of its
    /// lease in the lvmlock LV from <c>lv_lock_args</c>, <c>1.0.0:70254592</c>), held by <paramref name="lvmlockdPid"/>.
    /// </summary>
    public async Task<SanlockResource> LvLeaseAsync(LvRef lv, int lvmlockdPid, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(lv);
        var line = (await ReadAsync(["lvs", "--noheadings", "--separator", ",", "-o", "lv_uuid,lv_lock_args", "--", Full(lv)], lv.FullName, ct).ConfigureAwait(false)).Trim();
        var parts = line.Split(',', StringSplitOptions.TrimEntries);
        var args = parts.Length == 2 ? parts[1].Split(':') : [];
        return args.Length == 2 && long.TryParse(args[1], NumberStyles.None, CultureInfo.InvariantCulture, out var offset)
            ? SanlockResource.ForLv(lv.Vg, parts[0], offset, lvmlockdPid)
            : throw new LvmCommandException(new ProcessResult(["lvs"], 1, line, $"{lv.FullName} has no sanlock lock arguments ('{line}'): not an LV of a sanlock VG", TimeSpan.Zero));
    }

    /// <summary>What lvmlockd on this host holds (<c>lvmlockctl --info</c>).</summary>
    public async Task<LockdInfo> LockdInfoAsync(CancellationToken ct = default) =>
        LockdInfo.Parse(await LockctlAsync("--info", ct).ConfigureAwait(false));

    // lvmlockd answers --info and --dump over one abstract socket that each lvmlockctl binds:
    // two at once, and the second fails (exit 158, no message; seen 2026-12-07 when an extend's
    // --info met the agent's own --dump). This agent's are run one at a time.
    private readonly SemaphoreSlim _lockctl = new(1, 1);

    private async Task<string> LockctlAsync(string what, CancellationToken ct)
    {
        await _lockctl.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            var result = await runner.RunAsync(new LvmCommand(LvmTool.Lvmlockctl, [what], "lvmlockd"), ct).ConfigureAwait(false);
            return LvmErrors.ThrowIfFailed(result, "lvmlockd").Stdout;
        }
        finally
        {
            _lockctl.Release();
        }
    }

    /// <summary>
    /// The lock requests lvmlockd on this host refused, from its log (<c>lvmlockctl --dump</c>),
    /// each with whether this agent's choke point ran the command (null: it cannot tell).
    /// </summary>
    public async Task<IReadOnlyList<(LockRefusal Refusal, bool? Ours)>> LockRefusalsAsync(CancellationToken ct = default)
    {
        var dump = await LockctlAsync("--dump", ct).ConfigureAwait(false);
        return [.. LockdLog.Refusals(dump).Select(r => (r, runner.Started(r.Pid)))];
    }

    // ---------------------------------------------------------------- plumbing

    private async Task<string> ReadAsync(IReadOnlyList<string> args, string objectName, CancellationToken ct)
    {
        var result = await runner.RunAsync(new LvmCommand(LvmTool.Lvm, args, objectName), ct).ConfigureAwait(false);
        return LvmErrors.ThrowIfFailed(result, objectName).Stdout;
    }

    private async Task LocalAsync(IReadOnlyList<string> args, string objectName, CancellationToken ct)
    {
        var result = await runner.RunAsync(new LvmCommand(LvmTool.Lvm, args, objectName), ct).ConfigureAwait(false);
        LvmErrors.ThrowIfFailed(result, objectName);
    }

    /// <returns>The <c>vg_seqno</c> the command committed, or null when LVM did not say.</returns>
    private async Task<long?> WriteAsync(List<string> args, string objectName, MetadataWritePermit permit, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(permit);

        // Verbose: LVM then names the sequence number it committed, which every change's event
        // carries; reading it here saves a vgs (a metadata scan) after each change.
        var command = new LvmCommand(LvmTool.Lvm, [args[0], "--verbose", .. args[1..]], objectName, WritesMetadata: true, Permit: permit);
        var result = await runner.RunAsync(command, ct).ConfigureAwait(false);
        return CommittedSeqno(LvmErrors.ThrowIfFailed(result, objectName).Stderr);
    }

    /// <summary>
    /// The last <c>vg_seqno</c> a verbose metadata write reports (its backup line: <c>Creating volume
    /// group backup "/etc/lvm/backup/vg0" (seqno 16).</c>); null when backups are off or the text differs.
    /// </summary>
    public static long? CommittedSeqno(string stderr)
    {
        ArgumentNullException.ThrowIfNull(stderr);
        var matches = CommittedLine().Matches(stderr);
        return matches.Count == 0 ? null : long.Parse(matches[^1].Groups["seqno"].Value, CultureInfo.InvariantCulture);
    }

    [System.Text.RegularExpressions.GeneratedRegex("""volume group backup "[^"\n]*" \(seqno (?<seqno>\d+)\)""")]
    private static partial System.Text.RegularExpressions.Regex CommittedLine();

    private static string Full(LvRef lv)
    {
        ArgumentNullException.ThrowIfNull(lv);
        return lv.FullName;
    }

    /// <summary>LVM's byte unit ('b'), so sizes pass exactly; LVM rounds up to whole extents.</summary>
    private static string Bytes(long bytes) =>
        bytes > 0 ? bytes.ToString(CultureInfo.InvariantCulture) + "b" : throw new ArgumentOutOfRangeException(nameof(bytes), bytes, "a size must be positive");
}
