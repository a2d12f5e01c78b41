using Akka.Actor;
using Akka.Configuration;
using Akka.Coordination;
using Akka.TestKit.Xunit2;
using VgMesh.Cluster.Leases;

namespace VgMesh.Cluster.Tests.Leases;

/// <summary>What every lease store must do, run against each real database.</summary>
public abstract class SqlLeaseContract : TestKit
{
    protected static readonly TimeSpan Ttl = TimeSpan.FromSeconds(3);
    protected static readonly TimeSpan Margin = TimeSpan.FromSeconds(1);

    /// <summary>The lease's configuration: provider and connection string.</summary>
    protected abstract string ProviderConfig { get; }

    protected abstract ILeaseStore Store();

    protected SqlLease Lease(string name, string owner) => new(
        new LeaseSettings(name, owner, new TimeoutSettings(TimeSpan.FromMilliseconds(500), Ttl, TimeSpan.FromSeconds(1)),
            ConfigurationFactory.ParseString(ProviderConfig + "\nsafety-margin = 1s")),
        (ExtendedActorSystem)Sys);

    protected static string Name() => "vgmesh-singleton-akka://vgmesh/user/coordinator/" + Guid.NewGuid().ToString("N");

    [Fact]
    public async Task Acquire_HeldByAnother_RefusedUntilReleased_ThenTheGenerationGrows()
    {
        var name = Name();
        var a = Lease(name, "node1:4053");
        var b = Lease(name, "node2:4053");

        Assert.True(await a.Acquire());
        Assert.False(await b.Acquire());
        var first = a.Current!.Generation;
        Assert.True(a.CheckLease());
        Assert.False(b.CheckLease());

        Assert.True(await a.Release());
        Assert.False(a.CheckLease());
        Assert.True(await b.Acquire());

        Assert.Equal(first + 1, b.Current!.Generation);
        Assert.False(await a.Acquire());
        await b.Release();
    }

    /// <summary>
    /// An answer that comes with less than the margin left (a starved host: here a clock on which
    /// every reading is 2.1 s after the last) is refused, so Akka's singleton manager retries
    /// instead of starting the coordinator on a lease already gone; no lost callback for it.
    /// </summary>
    [Fact]
    public async Task Acquire_AnsweredTooLateToUse_IsRefused()
    {
        LeaseEnvironment.Get(Sys).Time = new StarvedClock(TimeSpan.FromSeconds(2.1));
        var lease = Lease(Name(), "node1:4053");
        var lost = 0;

        Assert.False(await lease.Acquire(_ => Interlocked.Increment(ref lost)));
        Assert.Null(lease.Current);
        Assert.Equal(0, lost);
    }

    /// <summary>A coordinator that started without the lease has the manager told again; one that holds it changes nothing.</summary>
    [Fact]
    public async Task NotifyIfNotHeld_CallsTheManagersCallback_OnlyWhenNotHeld()
    {
        var lease = Lease(Name(), "node1:4053");
        var lost = new List<Exception>();
        Assert.True(await lease.Acquire(e => lost.Add(e)));

        lease.NotifyIfNotHeld("the coordinator started");
        Assert.Empty(lost);

        await lease.Release();
        lease.NotifyIfNotHeld("the coordinator started");
        Assert.Contains("the coordinator started", Assert.Single(lost).Message, StringComparison.Ordinal);
    }

    private sealed class StarvedClock(TimeSpan step) : TimeProvider
    {
        private long _readings;

        public override long GetTimestamp() => System.GetTimestamp() + (Interlocked.Increment(ref _readings) * (long)(step.TotalSeconds * TimestampFrequency));
    }

    [Fact]
    public async Task Acquire_AgainBySameOwner_NewGeneration()
    {
        var a = Lease(Name(), "node1:4053");

        Assert.True(await a.Acquire());
        var g1 = a.Current!;
        Assert.True(await a.Acquire());
        var g2 = a.Current!;

        Assert.Equal(g1.Generation + 1, g2.Generation);
        Assert.True(g1.Lost.IsCancellationRequested); // the old acquisition's writes are fenced
        Assert.Throws<LeaseLostException>(g1.EnsureHeld);
        await a.Release();
    }

    [Fact]
    public async Task Acquire_ManyAtOnce_ExactlyOneHolds()
    {
        var name = Name();
        var leases = Enumerable.Range(1, 8).Select(i => Lease(name, $"node{i}:4053")).ToList();
        await leases[0].Acquire(); // the table exists before the race
        await leases[0].Release();

        var results = await Task.WhenAll(leases.Select(l => l.Acquire()));

        Assert.Equal(1, results.Count(r => r));
        await Task.WhenAll(leases.Select(l => l.Release()));
    }

    [Fact]
    public async Task Renewals_KeepItHeldPastItsTtl()
    {
        var name = Name();
        var a = Lease(name, "node1:4053");
        var b = Lease(name, "node2:4053");
        Assert.True(await a.Acquire());

        await Task.Delay(Ttl * 2);

        Assert.True(a.CheckLease());
        Assert.False(await b.Acquire());
        var row = await Store().ReadAsync(name, default);
        Assert.True(row!.Remaining > TimeSpan.Zero);
        Assert.Equal(a.Owner, row.Owner);
        await a.Release();
    }

    [Fact]
    public async Task HolderThatStoppedRenewing_TakenOverAfterTtl_ItsRenewalRefused()
    {
        // A frozen holder: it took the row and then renewed nothing.
        var name = Name();
        var store = Store();
        await store.InitializeAsync(default);
        var frozen = await store.TryAcquireAsync(name, "node1:4053#frozen", Ttl, default);
        var b = Lease(name, "node2:4053");

        Assert.False(await b.Acquire());
        await Task.Delay(Ttl + TimeSpan.FromMilliseconds(300));
        Assert.True(await b.Acquire());

        Assert.Equal(frozen + 1, b.Current!.Generation);
        Assert.False(await store.RenewAsync(name, "node1:4053#frozen", frozen!.Value, Ttl, default));
        await b.Release();
    }
}
