namespace VgMesh.Lvm.Commands;

/// <summary>How this host runs LVM. Immutable; validated once at start.</summary>
public sealed record LvmRunnerOptions
{
    /// <summary>
    /// Prepended to every command, e.g. <c>["chroot", "/host"]</c>, <c>["nsenter", "-t", "1", "-m"]</c>,
    /// or the lab's <c>["ops/lab", "exec", "node1", "--"]</c>. Environment then travels through <c>env</c>.
    /// </summary>
    public IReadOnlyList<string> CommandPrefix { get; init; } = [];

    public string LvmBinary { get; init; } = "lvm";

    public string DmsetupBinary { get; init; } = "dmsetup";

    public string MpathpersistBinary { get; init; } = "mpathpersist";

    public string ThinDeltaBinary { get; init; } = "thin_delta";

    public string LvmlockctlBinary { get; init; } = "lvmlockctl";

    public string SanlockBinary { get; init; } = "sanlock";

    /// <summary>Passed as <c>LVM_SYSTEM_DIR</c> when set: a per-host LVM configuration directory.</summary>
    public string? LvmSystemDir { get; init; }

    /// <summary>
    /// When false, a VG lock held by another process on this host (a hand-run command) fails the
    /// command at once with <see cref="LvmMetadataLockedException"/> instead of waiting behind it.
    /// </summary>
    public bool WaitForLocks { get; init; } = true;

    /// <summary>A command still running after this is killed (with its process tree).</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(120);

    public LvmRunnerOptions Validate()
    {
        if (string.IsNullOrWhiteSpace(LvmBinary) || string.IsNullOrWhiteSpace(DmsetupBinary) || string.IsNullOrWhiteSpace(MpathpersistBinary) || string.IsNullOrWhiteSpace(ThinDeltaBinary) || string.IsNullOrWhiteSpace(LvmlockctlBinary) || string.IsNullOrWhiteSpace(SanlockBinary))
        {
            throw new ArgumentException("LVM settings: LvmBinary, DmsetupBinary, MpathpersistBinary, ThinDeltaBinary, LvmlockctlBinary and SanlockBinary must name programs (default 'lvm', 'dmsetup', 'mpathpersist', 'thin_delta', 'lvmlockctl' and 'sanlock').");
        }

        if (Timeout <= TimeSpan.Zero)
        {
            throw new ArgumentException($"LVM settings: Timeout must be positive, not {Timeout}.");
        }

        if (CommandPrefix.Any(string.IsNullOrEmpty))
        {
            throw new ArgumentException("LVM settings: CommandPrefix has an empty element; give each argument separately.");
        }

        if (LvmSystemDir is { } dir && !Path.IsPathRooted(dir))
        {
            throw new ArgumentException($"LVM settings: LvmSystemDir '{dir}' must be an absolute path.");
        }

        return this;
    }
}
