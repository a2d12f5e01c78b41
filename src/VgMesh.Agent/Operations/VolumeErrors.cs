namespace VgMesh.Agent.Operations;

/// <summary>
/// Base of every refusal or failure of a volume operation the agent reports. <see cref="Code"/>
/// is the API's stable problem code (the same since the first engine, so clients and scripts
/// keep working); the message names the object and the next step. A refusal made by the
/// coordinator travels as its code and message (in the journal's recorded result, or in a
/// peer's problem document) and is rebuilt here as the same type by <see cref="FromCode"/>.
/// </summary>
public abstract class VolumeException(string message) : Exception(message)
{
    public abstract string Code { get; }

    /// <summary>The HTTP status for a problem code (LVM's own codes included).</summary>
    public static int StatusOf(string code) => code switch
    {
        "not-found" or "unknown-host" => 404,
        "forbidden" => 403,
        "invalid-name" or "invalid-size" or "bad-request" => 400,
        "in-use" or "already-exists" or "size-unchanged" or "insufficient-space" or "shrink-refused" or "host-down" or "snapshot-invalid" or "metadata-locked" or "cannot-delegate" or "over-quota" => 409,
        "no-coordinator" or "not-leader" or "cluster-unavailable" => 503,
        "timeout" => 504,
        _ => 500,
    };

    /// <summary>The typed error for a code and message recorded elsewhere (the coordinator's result, a peer's answer).</summary>
    public static VolumeException FromCode(string code, string message)
    {
        ArgumentNullException.ThrowIfNull(message);
        return code switch
        {
            LvInUse.ErrorCode => Prefixed(message, "LvInUse", out var hosts, out var detail)
                ? new LvInUse(hosts.Split(", ", StringSplitOptions.RemoveEmptyEntries), detail) : new LvInUse([], message),
            HostDown.ErrorCode => Prefixed(message, "HostDown", out var host, out var why) ? new HostDown(host, why) : new HostDown("", message),
            NotCoordinator.ErrorCode => new NotCoordinator(WithoutPrefix(message)),
            NoCoordinator.ErrorCode => new NoCoordinator(WithoutPrefix(message)),
            LvNotFound.ErrorCode => new LvNotFound("", message),
            UnknownHost.ErrorCode => new UnknownHost("", message),
            InvalidSize.ErrorCode => new InvalidSize(message),
            BadRequest.ErrorCode => new BadRequest(message),
            AlreadyExists.ErrorCode => new AlreadyExists("", message),
            ShrinkRefused.ErrorCode => new ShrinkRefused(message),
            CannotDelegate.ErrorCode => new CannotDelegate(message),
            Forbidden.ErrorCode => new Forbidden(message),
            _ => new OperationRefused(code, message),
        };
    }

    private static string WithoutPrefix(string message) =>
        message.StartsWith(NotCoordinator.Prefix, StringComparison.Ordinal) ? message[NotCoordinator.Prefix.Length..] : message;

    /// <summary>Splits <c>Name(args): detail</c>, the form the typed errors' messages start with.</summary>
    private static bool Prefixed(string message, string name, out string args, out string detail)
    {
        args = detail = "";
        var close = message.IndexOf("): ", StringComparison.Ordinal);
        if (!message.StartsWith(name + "(", StringComparison.Ordinal) || close < 0)
        {
            return false;
        }

        args = message[(name.Length + 1)..close];
        detail = message[(close + 3)..];
        return true;
    }
}

/// <summary>The LV is active (or open) on <see cref="Hosts"/>, and the change needs it not to be.</summary>
public sealed class LvInUse(IReadOnlyList<string> hosts, string detail) : VolumeException($"LvInUse({string.Join(", ", hosts)}): {detail}")
{
    public const string ErrorCode = "in-use";

    public IReadOnlyList<string> Hosts { get; } = hosts;

    public override string Code => ErrorCode;
}

/// <summary>The change needs <see cref="Host"/>, which is not an up, reachable member (or has not reported yet).</summary>
public sealed class HostDown(string host, string detail) : VolumeException($"HostDown({host}): {detail}")
{
    public const string ErrorCode = "host-down";

    public string Host { get; } = host;

    public override string Code => ErrorCode;
}

/// <summary>
/// The writer's right is gone or too close to its end: a delegation whose lease generation is
/// no longer the lease row's, or whose safety margin has passed. Nothing was run.
/// </summary>
public sealed class NotCoordinator(string detail) : VolumeException(Prefix + detail)
{
    public const string ErrorCode = "not-leader";
    internal const string Prefix = "NotCoordinator: ";

    public override string Code => ErrorCode;
}

/// <summary>
/// No coordinator answered in time. For a submitted operation this is "outcome unknown", never
/// "failed": it may still run, and resubmitting <see cref="OperationId"/> gives its result.
/// </summary>
public sealed class NoCoordinator(string detail, string? operationId = null) : VolumeException(NotCoordinator.Prefix + detail)
{
    public const string ErrorCode = "no-coordinator";

    /// <summary>The operation whose outcome is unknown, when one was submitted.</summary>
    public string? OperationId { get; } = operationId;

    public override string Code => ErrorCode;

    public static NoCoordinator OutcomeUnknown(string operationId, TimeSpan waited) => new(
        $"operation {operationId} has no result after {waited.TotalSeconds:0} s: no coordinator answered, and it may still run. Resubmit it with --operation-id {operationId} to get its result; it runs at most once.",
        operationId);
}

/// <summary>The LV (or snapshot, or fenced device) is not there.</summary>
public sealed class LvNotFound(string lv, string? detail = null) : VolumeException(detail ?? $"{lv} does not exist; 'vgmesh lv list' shows what does.")
{
    public const string ErrorCode = "not-found";

    public string Lv { get; } = lv;

    public override string Code => ErrorCode;
}

/// <summary>No member, and no progress record, of that host name.</summary>
public sealed class UnknownHost(string host, string detail) : VolumeException(detail)
{
    public const string ErrorCode = "unknown-host";

    public string Host { get; } = host;

    public override string Code => ErrorCode;
}

/// <summary>A size that cannot be, or that points the wrong way for the call.</summary>
public sealed class InvalidSize(string detail) : VolumeException(detail)
{
    public const string ErrorCode = "invalid-size";

    public override string Code => ErrorCode;
}

/// <summary>A request the API cannot take as it is (a missing field, an operation id reused for another request).</summary>
public sealed class BadRequest(string detail) : VolumeException(detail)
{
    public const string ErrorCode = "bad-request";

    public override string Code => ErrorCode;
}

/// <summary>An LV of the name asked for is there already.</summary>
public sealed class AlreadyExists(string lv, string detail) : VolumeException(detail)
{
    public const string ErrorCode = "already-exists";

    public string Lv { get; } = lv;

    public override string Code => ErrorCode;
}

/// <summary>An extend whose absolute size is below the LV's: only a reduce shrinks, with the LV inactive everywhere.</summary>
public sealed class ShrinkRefused(string detail) : VolumeException(detail)
{
    public const string ErrorCode = "shrink-refused";

    public override string Code => ErrorCode;
}

/// <summary>The change must run on the host where the LV is active, and that host cannot be asked.</summary>
public sealed class CannotDelegate(string detail) : VolumeException(detail)
{
    public const string ErrorCode = "cannot-delegate";

    public override string Code => ErrorCode;
}

/// <summary>A refusal with LVM's own code (insufficient space, size unchanged, a locked VG...), as the coordinator recorded it.</summary>
public sealed class OperationRefused(string code, string detail) : VolumeException(detail)
{
    public override string Code { get; } = code;
}

/// <summary>The caller may not do this: not in a registered container, or not the volume's owner.</summary>
public sealed class Forbidden(string detail) : VolumeException(detail)
{
    public const string ErrorCode = "forbidden";

    public override string Code => ErrorCode;
}
