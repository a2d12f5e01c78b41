using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace VgMesh.Lvm.Reports;

/// <summary>Parses <c>--reportformat json --units b --nosuffix</c> output into domain records.</summary>
public static class ReportParser
{
    public static IReadOnlyList<VolumeGroup> ParseVgs(string json) =>
        Rows(json, ReportJsonContext.Default.ReportEnvelope, e => e.Report.SelectMany(s => s.Vg ?? [])).Select(ToVg).ToList();

    /// <summary>The VG of an LV report asked with <see cref="ReportColumns.VgOfLv"/>; null when it has no LV.</summary>
    public static VolumeGroup? ParseVgOfLvs(string json) =>
        Rows(json, ReportJsonContext.Default.LvReportEnvelope, e => e.Report.SelectMany(s => s.Lv ?? [])).Select(ToVg).FirstOrDefault();

    private static VolumeGroup ToVg(VgRow r) => new(
        r.VgName, r.VgUuid, Long(r.VgSize), Long(r.VgFree), Long(r.VgExtentSize), Long(r.VgExtentCount),
        Long(r.VgFreeCount), Long(r.VgSeqno), r.VgAttr, r.VgLockType, Int(r.LvCount), Int(r.SnapCount),
        Int(r.PvCount), Tags(r.VgTags));

    public static IReadOnlyList<PhysicalVolume> ParsePvs(string json) =>
        Rows(json, s => s.Pv).Select(r => new PhysicalVolume(
            r.PvName, r.PvUuid, r.VgName.Length == 0 ? null : r.VgName, Long(r.PvSize), Long(r.PvFree),
            Long(r.DevSize), r.PvAttr)).ToList();

    /// <summary>
    /// LVM prints one row per segment when this kernel's table does not match the metadata (a host
    /// that missed another host's lvextend shows a second row with attr <c>-wi-XX--X-</c>); rows are
    /// folded per LV and the mismatch kept as <see cref="LogicalVolume.TableMismatch"/>.
    /// </summary>
    public static IReadOnlyList<LogicalVolume> ParseLvs(string json) =>
        Rows(json, s => s.Lv)
            .GroupBy(r => r.LvUuid)
            .Select(g => ToLv(g.First(), g.Any(r => LvAttributes.Parse(r.LvAttr).KernelStateUnknown && r.LvActive.Length > 0)))
            .ToList();

    private static LogicalVolume ToLv(LvRow r, bool mismatch)
    {
        var hidden = r.LvName.StartsWith('[') && r.LvName.EndsWith(']');
        return new LogicalVolume(
            hidden ? r.LvName[1..^1] : r.LvName,
            r.VgName,
            r.LvUuid,
            Long(r.LvSize),
            LvAttributes.Parse(r.LvAttr),
            NullIfEmpty(r.Origin),
            r.DataPercent.Length == 0 ? null : double.Parse(r.DataPercent, CultureInfo.InvariantCulture),
            NullIfEmpty(r.PoolLv),
            Int(r.SegCount),
            Tags(r.LvTags),
            r.LvActive == "active",
            r.LvActiveLocally == "active locally",
            r.LvActiveExclusively == "active exclusively",
            r.LvDeviceOpen == "open",
            KernelNumber(r.LvKernelMajor),
            KernelNumber(r.LvKernelMinor),
            r.ChunkSize.Length == 0 ? 0 : Long(r.ChunkSize),
            hidden,
            r.LvMerging == "merging",
            mismatch,
            r.VgSeqno.Length == 0 ? null : Long(r.VgSeqno));
    }

    private static IEnumerable<T> Rows<T>(string json, Func<ReportSection, List<T>?> pick) =>
        Rows(json, ReportJsonContext.Default.ReportEnvelope, e => e.Report.SelectMany(s => pick(s) ?? []));

    private static IEnumerable<T> Rows<TEnvelope, T>(string json, JsonTypeInfo<TEnvelope> type, Func<TEnvelope, IEnumerable<T>> rows)
    {
        TEnvelope? envelope;
        try
        {
            envelope = JsonSerializer.Deserialize(json, type);
        }
        catch (JsonException e)
        {
            throw new FormatException($"LVM report is not the JSON expected from --reportformat json: {e.Message}", e);
        }

        return envelope is null ? [] : rows(envelope);
    }

    private static long Long(string s) => long.Parse(s, NumberStyles.Integer, CultureInfo.InvariantCulture);

    private static int Int(string s) => s.Length == 0 ? 0 : int.Parse(s, NumberStyles.Integer, CultureInfo.InvariantCulture);

    private static int? KernelNumber(string s) => s.Length == 0 || s == "-1" ? null : Int(s);

    private static string? NullIfEmpty(string s) => s.Length == 0 ? null : s;

    private static string[] Tags(string s) => s.Split(',', StringSplitOptions.RemoveEmptyEntries);
}
