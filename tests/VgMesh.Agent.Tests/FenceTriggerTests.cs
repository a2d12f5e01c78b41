namespace VgMesh.Agent.Tests;

public sealed class FenceTriggerTests
{
    private static readonly TimeSpan Margin = TimeSpan.FromSeconds(1);

    [Fact]
    public void OncePerShortage_ReArmedByARenewalInTime()
    {
        var t = new FenceTrigger(Margin);
        Assert.False(t.ShouldFence(7, TimeSpan.FromSeconds(3)));
        Assert.True(t.ShouldFence(7, TimeSpan.FromMilliseconds(900)));  // short: fence
        Assert.False(t.ShouldFence(7, TimeSpan.FromMilliseconds(500))); // still short: done already
        Assert.True(t.IsFenced(7));

        Assert.False(t.ShouldFence(7, TimeSpan.FromSeconds(3)));        // renewed after all
        Assert.False(t.IsFenced(7));
        Assert.True(t.ShouldFence(7, TimeSpan.FromMilliseconds(200)));  // short again: what it holds now is fenced
    }

    [Fact]
    public void ANewSessionStartsArmed()
    {
        var t = new FenceTrigger(Margin);
        Assert.True(t.ShouldFence(7, TimeSpan.Zero)); // lost
        Assert.False(t.ShouldFence(8, TimeSpan.FromSeconds(3)));
        Assert.True(t.IsFenced(7));
        Assert.True(t.ShouldFence(8, TimeSpan.FromMilliseconds(100)));
    }
}
