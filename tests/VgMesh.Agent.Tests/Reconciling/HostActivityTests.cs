using VgMesh.Agent.Reconciling;

namespace VgMesh.Agent.Tests.Reconciling;

public sealed class HostActivityTests
{
    [Fact]
    public async Task OwnCommands_MakeItBusy_WithoutTakingTheGate()
    {
        using var activity = new HostActivity();
        Assert.False(activity.Busy);
        var first = activity.Own();
        using (activity.Own())
        {
            Assert.True(activity.Busy);
            // A pass can still act meanwhile: a create does not wait behind it, nor it behind a create.
            await activity.WaitAsync(CancellationToken.None);
            activity.Release();
        }

        Assert.True(activity.Busy);
        first.Dispose();
        first.Dispose(); // twice counts once
        Assert.False(activity.Busy);
    }
}
