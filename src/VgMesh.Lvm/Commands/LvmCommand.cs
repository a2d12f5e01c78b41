namespace VgMesh.Lvm.Commands;

/// <summary>Which program a command runs. Nothing else in vgmesh starts <c>lvm</c>, <c>dmsetup</c>, <c>mpathpersist</c> or <c>thin_delta</c>.</summary>
public enum LvmTool
{
    Lvm,
    Dmsetup,

    /// <summary>SCSI-3 persistent reservations on a multipath device (multipath-tools), for storage fencing.</summary>
    Mpathpersist,

    /// <summary>thin-provisioning-tools' <c>thin_delta</c>: the blocks two thin devices of a pool map differently (a thin snapshot's delta).</summary>
    ThinDelta,

    /// <summary>lvm2-lockd's <c>lvmlockctl</c>: what lvmlockd holds on this host (an lvmlockd VG).</summary>
    Lvmlockctl,

    /// <summary>sanlock's client: the resource leases lvmlockd holds (released for an LV fenced here).</summary>
    Sanlock,
}

/// <summary>
/// One command as an argument array. <see cref="Permit"/> is required for every command that
/// may write LVM metadata; commands without one run with metadata read-only.
/// </summary>
/// <param name="Tool">The program.</param>
/// <param name="Args">Sub-command and arguments, each one argv element; never joined into a shell string.</param>
/// <param name="ObjectName">What the command acts on, for error messages (<c>vg/lv</c>, a dm name).</param>
/// <param name="WritesMetadata">Whether the command may change on-disk LVM metadata.</param>
/// <param name="Permit">The writer's permit; required when <paramref name="WritesMetadata"/> is true.</param>
/// <param name="Stdin">Text written to the process's standard input (a dm table for <c>dmsetup load</c>).</param>
public sealed record LvmCommand(
    LvmTool Tool,
    IReadOnlyList<string> Args,
    string ObjectName,
    bool WritesMetadata = false,
    MetadataWritePermit? Permit = null,
    string? Stdin = null)
{
    /// <summary>The LVM sub-command, dmsetup verb or mpathpersist action (<c>lvcreate</c>, <c>remove</c>, <c>preempt</c>), for logs and metrics.</summary>
    public string Verb => Args.Count > 0 ? Args[0].TrimStart('-') : "";
}
