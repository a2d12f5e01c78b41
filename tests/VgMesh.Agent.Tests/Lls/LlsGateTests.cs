using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;
using VgMesh.Agent.Lls;
using VgMesh.Agent.Operations;

namespace VgMesh.Agent.Tests.Lls;

public class LlsGateTests
{
    private sealed class ConnectionItems : IConnectionItemsFeature
    {
        public IDictionary<object, object?> Items { get; set; } = new Dictionary<object, object?>();
    }

    private static DefaultHttpContext Context(string path, object? who)
    {
        var c = new DefaultHttpContext();
        c.Request.Path = path;
        var items = new ConnectionItems();
        if (who is not null)
        {
            items.Items["vgmesh.lls"] = who;
        }

        c.Features.Set<IConnectionItemsFeature>(items);
        return c;
    }

    private static async Task<bool> PassesAsync(DefaultHttpContext c)
    {
        var reached = false;
        await LlsEndpoints.GateAsync(c, () =>
        {
            reached = true;
            return Task.CompletedTask;
        });
        return reached;
    }

    [Fact]
    public async Task AContainersSocket_ServesOnlyLls()
    {
        var caller = new LlsCaller("node1", "c1", 42);
        Assert.True(await PassesAsync(Context("/lls/v1/volumes", caller)));
        await Assert.ThrowsAsync<Forbidden>(() => PassesAsync(Context("/v1/lvs", caller)));
        await Assert.ThrowsAsync<Forbidden>(() => PassesAsync(Context("/metrics", caller)));
    }

    [Fact]
    public async Task AnUnidentifiedCaller_GetsItsReason()
    {
        var e = await Assert.ThrowsAsync<Forbidden>(() => PassesAsync(Context("/lls/v1/volumes", new Forbidden("not in a registered container"))));
        Assert.Contains("not in a registered container", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheOperatorsSockets_DoNotServeLls()
    {
        await Assert.ThrowsAsync<LvNotFound>(() => PassesAsync(Context("/lls/v1/volumes", null)));
        Assert.True(await PassesAsync(Context("/v1/lvs", null)));
    }
}
