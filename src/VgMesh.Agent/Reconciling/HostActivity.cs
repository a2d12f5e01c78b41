namespace VgMesh.Agent.Reconciling;

/// <summary>
/// One change to this host's device-mapper at a time, among those that report it: a reconcile
/// pass (it reads the state, acts, and reports what it read), the ends of a handoff, and a
/// command a coordinator delegated here (a snapshot's creation activates the snapshot, a merge
/// reloads the origin). A pass that read before such a command and reported after it would tell
/// the coordinator less than is active here.
/// </summary>
public sealed class HostActivity : IDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);

    /// <summary>Whether something holds the gate now.</summary>
    public bool Busy => _gate.CurrentCount == 0;

    public Task WaitAsync(CancellationToken ct) => _gate.WaitAsync(ct);

    public Task<bool> WaitAsync(TimeSpan timeout, CancellationToken ct) => _gate.WaitAsync(timeout, ct);

    public void Release() => _gate.Release();

    public void Dispose() => _gate.Dispose();
}
