namespace VgMesh.Sync;

/// <summary>
/// Why a sync or an apply stopped: a code for scripts and the API (<c>stream-truncated</c>,
/// <c>stream-corrupt</c>, <c>destination-too-small</c>, <c>not-a-snapshot-store</c>, ...), a message
/// that names the object and the next step, and how many bytes of the destination were written
/// before it stopped (0: nothing changed).
/// </summary>
public sealed class SyncException : Exception
{
    public SyncException(string code, string message, long bytesWritten = 0)
        : base(message)
    {
        Code = code;
        BytesWritten = bytesWritten;
    }

    public SyncException()
        : this("sync-failed", "sync failed")
    {
    }

    public SyncException(string message)
        : this("sync-failed", message)
    {
    }

    public SyncException(string message, Exception inner)
        : base(message, inner)
    {
        Code = "sync-failed";
    }

    public string Code { get; } = "sync-failed";

    public long BytesWritten { get; }

    public SyncException WithBytesWritten(long written) => new(Code, Message, written);
}
