using System.Text.Json.Serialization;

namespace VgMesh.Lvm.Reports;

// LVM's JSON report: {"report":[{"vg":[{...}]}]}, every value a string. These rows stay private
// to the parser; callers see the domain records.
internal sealed class ReportEnvelope
{
    public List<ReportSection> Report { get; set; } = [];
}

internal sealed class ReportSection
{
    public List<VgRow>? Vg { get; set; }

    public List<PvRow>? Pv { get; set; }

    public List<LvRow>? Lv { get; set; }
}

/// <summary>An LV report read for its VG columns: every row carries them, the first is enough.</summary>
internal sealed class LvReportEnvelope
{
    public List<LvReportSection> Report { get; set; } = [];
}

internal sealed class LvReportSection
{
    public List<VgRow>? Lv { get; set; }
}

internal sealed class VgRow
{
    public string VgName { get; set; } = "";
    public string VgUuid { get; set; } = "";
    public string VgSize { get; set; } = "";
    public string VgFree { get; set; } = "";
    public string VgExtentSize { get; set; } = "";
    public string VgExtentCount { get; set; } = "";
    public string VgFreeCount { get; set; } = "";
    public string VgSeqno { get; set; } = "";
    public string VgAttr { get; set; } = "";
    public string VgLockType { get; set; } = "";
    public string LvCount { get; set; } = "";
    public string SnapCount { get; set; } = "";
    public string PvCount { get; set; } = "";
    public string VgTags { get; set; } = "";
}

internal sealed class PvRow
{
    public string PvName { get; set; } = "";
    public string PvUuid { get; set; } = "";
    public string VgName { get; set; } = "";
    public string PvSize { get; set; } = "";
    public string PvFree { get; set; } = "";
    public string DevSize { get; set; } = "";
    public string PvAttr { get; set; } = "";
}

internal sealed class LvRow
{
    public string LvName { get; set; } = "";
    public string VgName { get; set; } = "";
    public string LvUuid { get; set; } = "";
    public string LvFullName { get; set; } = "";
    public string LvSize { get; set; } = "";
    public string LvAttr { get; set; } = "";
    public string Origin { get; set; } = "";
    public string DataPercent { get; set; } = "";
    public string PoolLv { get; set; } = "";
    public string SegCount { get; set; } = "";
    public string LvTags { get; set; } = "";
    public string LvActive { get; set; } = "";
    public string LvActiveLocally { get; set; } = "";
    public string LvActiveExclusively { get; set; } = "";
    public string LvDeviceOpen { get; set; } = "";
    public string LvKernelMajor { get; set; } = "";
    public string LvKernelMinor { get; set; } = "";
    public string ChunkSize { get; set; } = "";
    public string LvSnapshotInvalid { get; set; } = "";
    public string LvMerging { get; set; } = "";
    public string VgSeqno { get; set; } = "";
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(ReportEnvelope))]
[JsonSerializable(typeof(LvReportEnvelope))]
internal sealed partial class ReportJsonContext : JsonSerializerContext;
