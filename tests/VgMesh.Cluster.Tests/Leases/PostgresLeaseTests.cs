using System.Diagnostics;
using Npgsql;
using VgMesh.Cluster.Leases;

namespace VgMesh.Cluster.Tests.Leases;

[Collection(PostgresCollection.Name)]
public sealed class PostgresLeaseTests(PostgresFixture pg) : SqlLeaseContract
{
    protected override string ProviderConfig => $"provider = postgresql\nconnection-string = \"{pg.Server.ConnectionString}\"";

    protected override ILeaseStore Store() => new PostgresLeaseStore(NpgsqlDataSource.Create(pg.Server.ConnectionString));

    [Fact]
    public async Task DatabaseUnreachable_LostBeforeTheRowCanRunOut()
    {
        var name = Name();
        var a = Lease(name, "node1:4053");
        var lost = new TaskCompletionSource<Exception>();
        Assert.True(await a.Acquire(e => lost.TrySetResult(e)));
        var guard = a.Current!;

        var cut = Stopwatch.StartNew();
        await pg.Server.PauseAsync();
        try
        {
            var reason = await lost.Task.WaitAsync(Ttl * 2);
            var at = cut.Elapsed;

            // The last renewal was sent at most one heartbeat before the cut; the row runs out a
            // TTL after that. The lease must count as lost with the safety margin still left.
            Assert.True(at < Ttl - Margin + TimeSpan.FromMilliseconds(700), $"lost {at.TotalMilliseconds:0} ms after the cut");
            Assert.Contains("lost", reason.Message, StringComparison.Ordinal);
            Assert.False(a.CheckLease());
            Assert.True(guard.Lost.IsCancellationRequested);
            Assert.Throws<LeaseLostException>(guard.EnsureHeld);
        }
        finally
        {
            await pg.Server.ResumeAsync();
        }

        // Back in reach. A renewal that was stuck in the paused server may still land when it
        // resumes and extend the row once more (by one TTL: a delay for the next holder, never a
        // second holder, since this one already counts the lease as lost). Then a new
        // acquisition is a new generation.
        await Task.Delay(Ttl * 2);
        var b = Lease(name, "node2:4053");
        Assert.True(await b.Acquire());
        Assert.True(b.Current!.Generation > guard.Generation);
        await b.Release();
    }
}
