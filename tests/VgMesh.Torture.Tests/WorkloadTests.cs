namespace VgMesh.Torture.Tests;

public sealed class WorkloadTests
{
    [Fact]
    public void SameSeed_SameOperations_ExclusiveOnlyForTx_SharedOnlyForTs()
    {
        var a = new Workload(new Random(5), ["node1", "node2"]);
        var b = new Workload(new Random(5), ["node1", "node2"]);
        var ops = Enumerable.Range(0, 2000).Select(_ => a.Next()).ToList();

        Assert.Equal(ops, Enumerable.Range(0, 2000).Select(_ => b.Next()));
        Assert.All(ops.Where(o => o.Kind == "activate"), o => Assert.StartsWith("tx", o.Lv, StringComparison.Ordinal));
        Assert.All(ops.Where(o => o.Kind == "activate-shared"), o => Assert.StartsWith("ts", o.Lv, StringComparison.Ordinal));
        Assert.All(ops, o => Assert.True(Workload.Owns(o.Lv), o.ToString()));
        Assert.Equal(10, ops.Select(o => o.Kind).Distinct().Count());
    }

    [Theory]
    [InlineData("tx0", true)]
    [InlineData("ts2s", true)]
    [InlineData("tx12", true)]
    [InlineData("tpl", false)]
    [InlineData("tx1\n", false)]
    [InlineData("lls.node1.c1.tx1", false)]
    public void Owns_OnlyTheWorkloadsNames(string lv, bool owned) => Assert.Equal(owned, Workload.Owns(lv));
}
