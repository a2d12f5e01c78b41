namespace VgMesh.Lvm.Reports;

/// <summary>
/// The columns every report asks for. ops/record-fixtures asks for the same ones (a test
/// compares them), so the fixtures stay true to what the driver reads.
/// </summary>
public static class ReportColumns
{
    public const string Vg = "vg_name,vg_uuid,vg_size,vg_free,vg_extent_size,vg_extent_count,vg_free_count,vg_seqno,vg_attr,vg_lock_type,lv_count,snap_count,pv_count,vg_tags";

    public const string Pv = "pv_name,pv_uuid,vg_name,pv_size,pv_free,dev_size,pv_attr";

    public const string Lv = "lv_name,vg_name,lv_uuid,lv_full_name,lv_size,lv_attr,origin,data_percent,pool_lv,seg_count,lv_tags,lv_active,lv_active_locally,lv_active_exclusively,lv_device_open,lv_kernel_major,lv_kernel_minor,chunk_size,lv_snapshot_invalid,lv_merging,vg_seqno";

    /// <summary>
    /// The VG's own columns an LV report can carry (its name and sequence number are in
    /// <see cref="Lv"/> already): a reconcile pass reads LVs and VG in one process.
    /// </summary>
    public const string VgOfLv = "vg_uuid,vg_size,vg_free,vg_extent_size,vg_extent_count,vg_free_count,vg_attr,vg_lock_type,lv_count,snap_count,pv_count,vg_tags";

    /// <summary>Exact sizes in bytes, machine-readable JSON; numbers arrive as strings.</summary>
    public static readonly string[] Format = ["--reportformat", "json", "--units", "b", "--nosuffix"];
}
