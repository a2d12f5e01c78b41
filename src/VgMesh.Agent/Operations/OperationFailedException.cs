namespace VgMesh.Agent.Operations;

/// <summary>A precondition or LVM failure, with the stable code the API reports.</summary>
public sealed class OperationFailedException(string code, string message) : Exception(message)
{
    public string Code { get; } = code;

    /// <summary>The HTTP status the API answers with for this code.</summary>
    public static int StatusOf(string code) => code switch
    {
        "not-found" or "unknown-host" => 404,
        "invalid-name" or "invalid-size" or "bad-request" => 400,
        "in-use" or "already-exists" or "size-unchanged" or "insufficient-space" or "shrink-refused" or "host-down" or "snapshot-invalid" or "metadata-locked" => 409,
        "no-coordinator" or "not-leader" or "cluster-unavailable" => 503,
        "timeout" => 504,
        _ => 500,
    };
}
