namespace VgMesh.Agent.Reconciling;

/// <summary>
/// One change to this host's device-mapper at a time, among those that report it: a reconcile
/// pass (it reads the state, acts, and reports what it read), the ends of a handoff, and a
/// command a coordinator delegated here (a snapshot's creation activates the snapshot, a merge
/// reloads the origin). A pass that read before such a command and reported after it would tell
/// the coordinator less than is active here.
/// Inside it, a second gate for table loads alone: the drift watch's growth of a table changes
/// nothing a report says, so it may run while a pass only reads (the pass lends it; an
/// <c>lvs</c> in a lab host takes 0.7 s, the tail of the drift figure when the growth waited for
/// the whole pass), never while anything acts.
/// </summary>
public sealed class HostActivity : IDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly SemaphoreSlim _tables = new(1, 1);
    private bool _lent; // by the gate's holder only
    private int _own;

    /// <summary>Whether something holds the gate now, or a command of this agent's own makes a device come and go (<see cref="Own"/>).</summary>
    public bool Busy => _gate.CurrentCount == 0 || Volatile.Read(ref _own) > 0;

    /// <summary>
    /// While the returned scope lives, this agent's own command may make a device appear and go
    /// (the coordinator's <c>lvcreate</c>, which activates the new LV to zero it, then the
    /// release of it). Only the device watch minds: it does not take the device for one
    /// activated by hand and start a pass (an <c>lvs</c> of 0.7-1.4 s in a lab host, beside the
    /// next create). Not the gate: a create must not wait behind a pass. A change by hand in the
    /// same moment is still seen at the watch's next look, since the device is gone again by then.
    /// </summary>
    public IDisposable Own()
    {
        Interlocked.Increment(ref _own);
        return new OwnScope(this);
    }

    private sealed class OwnScope(HostActivity activity) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                Interlocked.Decrement(ref activity._own);
            }
        }
    }

    /// <summary>Both gates: to act on anything.</summary>
    public async Task WaitAsync(CancellationToken ct)
    {
        await _gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            await _tables.WaitAsync(ct).ConfigureAwait(false);
        }
        catch
        {
            _gate.Release();
            throw;
        }
    }

    public void Release()
    {
        if (_lent)
        {
            _lent = false;
        }
        else
        {
            _tables.Release();
        }

        _gate.Release();
    }

    /// <summary>By the gate's holder, while it only reads: table growth may go on meanwhile.</summary>
    public void LendTables()
    {
        _lent = true;
        _tables.Release();
    }

    /// <summary>By the gate's holder, before it acts.</summary>
    public async Task ReclaimTablesAsync(CancellationToken ct)
    {
        await _tables.WaitAsync(ct).ConfigureAwait(false);
        _lent = false;
    }

    /// <summary>The table gate alone, for a growth of a table (<see cref="GrowTable"/>).</summary>
    public Task<bool> WaitTablesAsync(TimeSpan timeout, CancellationToken ct) => _tables.WaitAsync(timeout, ct);

    public void ReleaseTables() => _tables.Release();

    public void Dispose()
    {
        _gate.Dispose();
        _tables.Dispose();
    }
}
