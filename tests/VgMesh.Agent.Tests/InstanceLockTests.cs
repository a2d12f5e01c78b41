using Akka.Actor;

namespace VgMesh.Agent.Tests;

public sealed class InstanceLockTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"vgmesh-lock-{Guid.NewGuid():N}");

    [Fact]
    public void ASecondAgentOnTheSameStateDirectory_IsRefused_NamingTheFirst()
    {
        using var first = InstanceLock.Take(_dir, 4242);
        var e = Assert.Throws<InvalidOperationException>(() => InstanceLock.Take(_dir, 4343));
        Assert.Contains("another vgmeshd (pid 4242)", e.Message, StringComparison.Ordinal);
        Assert.Contains(_dir, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReleasedLock_CanBeTakenAgain()
    {
        InstanceLock.Take(_dir, 1).Dispose();
        using var again = InstanceLock.Take(_dir, 2);
        Assert.Equal("2", File.ReadAllText(InstanceLock.PidPathIn(_dir)).Trim());
    }

    [Fact]
    public void Restart_OnlyWhenTheSystemEndedWithoutAStop()
    {
        Assert.True(AgentExit.IsRestart(CoordinatedShutdown.ClusterDowningReason.Instance, stopping: false));
        Assert.True(AgentExit.IsRestart(QuarantinedReason.Instance, stopping: false));
        // A stop: SIGTERM seen, or the CLR exiting, whichever ran the shutdown first.
        Assert.False(AgentExit.IsRestart(CoordinatedShutdown.ClusterDowningReason.Instance, stopping: true));
        Assert.False(AgentExit.IsRestart(CoordinatedShutdown.ClrExitReason.Instance, stopping: false));
    }

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }
}
