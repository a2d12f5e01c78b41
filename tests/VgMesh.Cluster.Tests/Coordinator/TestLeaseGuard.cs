using VgMesh.Cluster.Leases;

namespace VgMesh.Cluster.Tests.Coordinator;

/// <summary>A scriptable lease acquisition: the test decides whether it holds and when it is lost.</summary>
internal sealed class TestLeaseGuard(long generation) : ILeaseGuard, IDisposable
{
    private readonly CancellationTokenSource _lost = new();

    public long Generation => generation;

    public string Owner => "node1:4053#test";

    public bool Held { get; set; } = true;

    public TimeSpan TimeLeft => Held && !_lost.IsCancellationRequested ? TimeSpan.FromSeconds(30) : TimeSpan.Zero;

    public CancellationToken Lost => _lost.Token;

    public void EnsureHeld()
    {
        if (TimeLeft == TimeSpan.Zero)
        {
            throw new LeaseLostException("test-lease", generation, "lost by the test");
        }
    }

    public void Lose()
    {
        Held = false;
        _lost.Cancel();
    }

    public void Dispose() => _lost.Dispose();
}
