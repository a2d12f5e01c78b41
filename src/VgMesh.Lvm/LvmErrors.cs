using System.Text.RegularExpressions;
using VgMesh.Lvm.Commands;

namespace VgMesh.Lvm;

/// <summary>
/// Maps a failed command's stderr to a typed error. The patterns are LVM 2.03.16's and
/// dmsetup's own texts, recorded in the lab (tests hold the recordings).
/// </summary>
public static partial class LvmErrors
{
    /// <summary>Throws the typed error for a failed result; returns it unchanged when it succeeded.</summary>
    public static ProcessResult ThrowIfFailed(ProcessResult result, string objectName)
    {
        ArgumentNullException.ThrowIfNull(result);
        return result.Succeeded ? result : throw Classify(result, objectName);
    }

    public static LvmException Classify(ProcessResult result, string objectName)
    {
        ArgumentNullException.ThrowIfNull(result);
        // lvmlockd's warning on a host whose lockspace is not started (yet) says "not found" of a
        // lockspace, not of the object; it says nothing of why the command failed.
        var err = LockdWarning().Replace(result.Stderr, "");
        Match m;
        if ((m = InsufficientVg().Match(err)).Success)
        {
            return new LvmInsufficientSpaceException(m.Groups["vg"].Value, long.Parse(m.Groups["need"].Value, System.Globalization.CultureInfo.InvariantCulture), long.Parse(m.Groups["free"].Value, System.Globalization.CultureInfo.InvariantCulture), result);
        }

        if ((m = InsufficientExtend().Match(err)).Success)
        {
            return new LvmInsufficientSpaceException(VgOf(objectName), long.Parse(m.Groups["need"].Value, System.Globalization.CultureInfo.InvariantCulture), long.Parse(m.Groups["free"].Value, System.Globalization.CultureInfo.InvariantCulture), result);
        }

        if ((m = SizeRefused().Match(err)).Success)
        {
            return new LvmSizeRefusedException(objectName, m.Groups["same"].Success, result);
        }

        if (AlreadyExists().IsMatch(err))
        {
            return new LvmAlreadyExistsException(objectName, result);
        }

        if ((m = InvalidSnapshot().Match(err)).Success)
        {
            return new LvmSnapshotInvalidException(objectName, "invalidated", result);
        }

        if (InUse().IsMatch(err))
        {
            return new LvmInUseException(objectName, result);
        }

        if (LockedByOtherHost().IsMatch(err))
        {
            return new LvmLockedByOtherHostException(objectName, result);
        }

        if ((m = Locked().Match(err)).Success)
        {
            return new LvmMetadataLockedException(objectName, m.Value.Trim().TrimEnd('.'), result);
        }

        if (NotFound().IsMatch(err))
        {
            return new LvmNotFoundException(objectName, result);
        }

        return new LvmCommandException(result);
    }

    private static string VgOf(string objectName)
    {
        var slash = objectName.IndexOf('/', StringComparison.Ordinal);
        return slash > 0 ? objectName[..slash] : objectName;
    }

    // Volume group "vg0" has insufficient free space (495 extents): 25600 required.
    [GeneratedRegex("""Volume group "(?<vg>[^"]+)" has insufficient free space \((?<free>\d+) extents\): (?<need>\d+) required""")]
    private static partial Regex InsufficientVg();

    // Insufficient free space: 25600 extents needed, but only 495 available
    [GeneratedRegex("""Insufficient free space: (?<need>\d+) extents needed, but only (?<free>\d+) available""")]
    private static partial Regex InsufficientExtend();

    // New size (3 extents) matches existing size (3 extents). / New size given (1 extents) not larger than existing size (3 extents)
    [GeneratedRegex("""New size \(\d+ extents\) (?<same>matches) existing size|New size given \(\d+ extents\) not (larger|less) than existing size""")]
    private static partial Regex SizeRefused();

    // Logical Volume "a" already exists in volume group "vg0"; Physical volume ... is already in volume group; Device ... already exists
    [GeneratedRegex("""already exists|device-mapper: create ioctl on .* failed: Device or resource busy""", RegexOptions.IgnoreCase)]
    private static partial Regex AlreadyExists();

    // Unable to merge invalidated snapshot LV vg0/s1.  / Snapshot ... is invalid / overflowed
    [GeneratedRegex("""invalidated snapshot|snapshot .* is invalid|Overflow""", RegexOptions.IgnoreCase)]
    private static partial Regex InvalidSnapshot();

    // Logical volume vg0/a in use. / ... is used by another device. / remove ioctl ... Device or resource busy
    [GeneratedRegex("""\bin use\b|used by another device|Device or resource busy|is open""")]
    private static partial Regex InUse();

    // Skipping global lock: lockspace not found or started
    [GeneratedRegex(@"^\s*Skipping global lock: lockspace not found or started\s*$\n?", RegexOptions.Multiline)]
    private static partial Regex LockdWarning();

    // lvmlockd: LV locked by other host: san/a
    [GeneratedRegex("""LV locked by other host""")]
    private static partial Regex LockedByOtherHost();

    // Operation prohibited while global/metadata_read_only is set. / ... while --readonly is set. / Can't get lock for vg0
    [GeneratedRegex("""Operation prohibited while [^\n]*|Can't get lock for [^\n]*|Failed to lock [^\n]*""")]
    private static partial Regex Locked();

    // Failed to find logical volume "vg0/nope" / Volume group "nope" not found / Snapshot origin LV nope not found
    // dmsetup: Device does not exist. / remove ioctl on nope failed: No such device or address
    [GeneratedRegex("""Failed to find|not found|Device does not exist|No such device or address""")]
    private static partial Regex NotFound();
}
