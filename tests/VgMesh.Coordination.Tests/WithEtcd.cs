using VgMesh.Bench;

namespace VgMesh.Coordination.Tests;

/// <summary>A real etcd (Debian's etcd-server on loopback) for each test of the class.</summary>
public abstract class WithEtcd : IAsyncLifetime
{
    protected LocalEtcd Etcd { get; private set; } = null!;

    /// <summary>How many etcd members the tests of this class need.</summary>
    protected virtual int Members => 1;

    public virtual async Task InitializeAsync() => Etcd = await LocalEtcd.StartAsync(Members);

    public virtual async Task DisposeAsync() => await Etcd.DisposeAsync();
}
