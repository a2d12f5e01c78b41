using VgMesh.Lvm.Commands;

namespace VgMesh.Lvm;

/// <summary>
/// Base of every error the driver raises. <see cref="Code"/> is stable (the API reports it);
/// the message names the object and the next step. <see cref="Result"/> holds the failed
/// command's argv, exit code and stderr when a process ran.
/// </summary>
public abstract class LvmException : Exception
{
    protected LvmException(string code, string message, ProcessResult? result = null, Exception? inner = null)
        : base(message, inner)
    {
        Code = code;
        Result = result;
    }

    public string Code { get; }

    public ProcessResult? Result { get; }
}

/// <summary>A name was refused before any process started; nothing changed.</summary>
public sealed class InvalidLvmNameException(string name, string kind, string rule)
    : LvmException("invalid-name", $"{kind} name '{name}' is not valid: {rule}. Choose a name that follows LVM's naming rules; nothing was changed.")
{
    public string Name { get; } = name;

    public string Kind { get; } = kind;

    public string Rule { get; } = rule;
}

/// <summary>The named VG, LV, snapshot origin or device-mapper device does not exist.</summary>
public sealed class LvmNotFoundException(string objectName, ProcessResult? result = null)
    : LvmException("not-found", $"'{objectName}' does not exist on this host. List what exists (vgmesh lv list, lvs, dmsetup ls) and check the name.", result)
{
    public string ObjectName { get; } = objectName;
}

/// <summary>An object of that name already exists.</summary>
public sealed class LvmAlreadyExistsException(string objectName, ProcessResult? result = null)
    : LvmException("already-exists", $"'{objectName}' already exists. Pick another name, or remove the existing one first.", result)
{
    public string ObjectName { get; } = objectName;
}

/// <summary>The device is open on this host (mounted, or held by a process or another dm device).</summary>
public sealed class LvmInUseException(string objectName, ProcessResult? result = null)
    : LvmException("in-use", $"'{objectName}' is open on this host. Unmount it or stop what holds it (see 'dmsetup info' open count), then retry.", result)
{
    public string ObjectName { get; } = objectName;
}

/// <summary>The volume group lacks the extents the change needs. Figures are in extents, as LVM reports them.</summary>
public sealed class LvmInsufficientSpaceException(string objectName, long neededExtents, long freeExtents, ProcessResult? result = null)
    : LvmException("insufficient-space", $"volume group '{objectName}' has {freeExtents} free extents but {neededExtents} are needed. Free space (remove or reduce an LV) or extend the VG, then retry.", result)
{
    public string ObjectName { get; } = objectName;

    public long NeededExtents { get; } = neededExtents;

    public long FreeExtents { get; } = freeExtents;
}

/// <summary>
/// A resize LVM refused because of the LV's current size: the new size equals it
/// (<see cref="Unchanged"/>), or an extend would shrink it (or a reduce grow it).
/// </summary>
public sealed class LvmSizeRefusedException(string objectName, bool unchanged, ProcessResult? result = null)
    : LvmException(unchanged ? "size-unchanged" : "invalid-size",
        unchanged ? $"'{objectName}' already has that size; nothing was changed." : $"'{objectName}' is already larger than that; nothing was changed. Use reduce to shrink it (inactive everywhere), or give a larger size.", result)
{
    public string ObjectName { get; } = objectName;

    public bool Unchanged { get; } = unchanged;
}

/// <summary>LVM refused to write metadata: read-only mode, or the VG lock could not be had.</summary>
public sealed class LvmMetadataLockedException(string objectName, string reason, ProcessResult? result = null)
    : LvmException("metadata-locked", $"metadata of '{objectName}' cannot be written now: {reason}. Retry when the lock holder is done, or run the change through the coordinator.", result)
{
    public string ObjectName { get; } = objectName;
}

/// <summary>lvmlockd refused: another host holds the LV's lock (it is active there).</summary>
public sealed class LvmLockedByOtherHostException(string objectName, ProcessResult? result = null)
    : LvmException("lv-locked-elsewhere", $"'{objectName}' is locked by another host (lvmlockd): it is active there. Deactivate it on that host, or hand it off, first.", result)
{
    public string ObjectName { get; } = objectName;
}

/// <summary>A snapshot is invalid (it overflowed or a merge failed); its contents are lost.</summary>
public sealed class LvmSnapshotInvalidException(string objectName, string state, ProcessResult? result = null)
    : LvmException("snapshot-invalid", $"snapshot '{objectName}' is {state}: its data can no longer be used. Remove it (lvremove) and take a new, larger one.", result)
{
    public string ObjectName { get; } = objectName;

    public string State { get; } = state;
}

/// <summary>The command ran past its timeout and was killed; its effect is unknown until re-read.</summary>
public sealed class LvmTimeoutException(string command, TimeSpan timeout, ProcessResult? result = null)
    : LvmException("timeout", $"'{command}' did not finish within {timeout.TotalSeconds:0.#} s and was killed. Re-read the state (lvs, dmsetup info) before retrying: it may have taken effect.", result)
{
    public TimeSpan Timeout { get; } = timeout;
}

/// <summary>A write was attempted without a metadata write permit.</summary>
public sealed class LvmWriteNotPermittedException(string command)
    : LvmException("write-not-permitted", $"'{command}' changes LVM metadata and this caller holds no write permit. Submit the change through the coordinator (vgmesh), which is the only writer.")
{
}

/// <summary>
/// An argument held a control character or a non-ASCII one, and no process was started. Names
/// are validated where they enter (API, CLI, LLS); this is the choke point's own last check, so
/// an input that slipped past them is refused and seen (the fuzzer looks for this code) instead of
/// reaching LVM, whose metadata text and logs such bytes would garble.
/// </summary>
public sealed class LvmUnsafeArgumentException(string objectName, int position)
    : LvmException(ErrorCode, $"argument {position} of the command for '{objectName}' holds a control or non-ASCII character; no process was started. This is a bug in vgmesh's validation: report it with the request that caused it.")
{
    public const string ErrorCode = "unsafe-argument";
}

/// <summary>Any other failure; exit code and stderr are kept in <see cref="LvmException.Result"/>.</summary>
public sealed class LvmCommandException(ProcessResult result)
    : LvmException("command-failed", $"'{result.CommandLine}' failed with exit code {result.ExitCode}: {result.StderrSummary}. Read the LVM message above; nothing was retried.", result)
{
}

/// <summary>A thin pool would not take a metadata snapshot: one is held already (a reader stopped while it held it), or the pool is not active on this host.</summary>
public sealed class ThinMetadataSnapshotException(string pool, string target, LvmException inner)
    : LvmException("thin-metadata-snapshot", $"thin pool {pool} would not take a metadata snapshot ({inner.Message}). If a reader stopped while it held one, let it go with 'dmsetup message {target} 0 release_metadata_snap' and try again.", inner.Result, inner)
{
    public string Pool { get; } = pool;
}
