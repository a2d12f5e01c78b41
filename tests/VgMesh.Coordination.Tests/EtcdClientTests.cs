using System.Diagnostics;
using VgMesh.Coordination.Etcd;

namespace VgMesh.Coordination.Tests;

public sealed class EtcdClientTests : WithEtcd
{

    [Fact]
    public async Task KvAndTxn_CompareBranches()
    {
        using var c = TestNodes.Client(Etcd.Endpoints);
        var k = Keys.Of("/t/a");
        var put = await c.PutAsync(k, Keys.Of("v1"));
        var got = Assert.Single((await c.GetAsync(k)).Kvs);
        Assert.Equal("v1", Keys.Text(got.Value));
        Assert.Equal(put.Header.Revision, got.CreateRevision);

        var ok = await c.TxnAsync(new TxnRequest { Compare = [Compare.CreateRevisionIs(k, got.CreateRevision)], Success = [RequestOp.Put(k, Keys.Of("v2"))], Failure = [RequestOp.Get(k)] });
        Assert.True(ok.Succeeded);
        var no = await c.TxnAsync(new TxnRequest { Compare = [Compare.Absent(k)], Success = [RequestOp.Put(k, Keys.Of("v3"))], Failure = [RequestOp.Get(k)] });
        Assert.False(no.Succeeded);
        Assert.Equal("v2", Keys.Text(no.Responses[0].ResponseRange!.Kvs[0].Value));
        Assert.False((await c.TxnAsync(new TxnRequest { Compare = [Compare.ValueIs(k, Keys.Of("zz"))] })).Succeeded);
        Assert.True((await c.TxnAsync(new TxnRequest { Compare = [Compare.ModRevisionIs(k, ok.Header.Revision), Compare.VersionIs(k, 2)] })).Succeeded);

        await c.PutAsync(Keys.Of("/t/b"), Keys.Of("x"));
        Assert.Equal(2, (await c.GetPrefixAsync(Keys.Of("/t/"))).Kvs.Count);
        Assert.Equal(2, (await c.DeleteAsync(Keys.Of("/t/"), Keys.PrefixEnd(Keys.Of("/t/")))).Deleted);
        Assert.Empty((await c.GetPrefixAsync(Keys.Of("/t/"))).Kvs);
    }

    [Fact]
    public async Task Lease_GrantKeepAliveRevoke_KeyGoesWithIt()
    {
        using var c = TestNodes.Client(Etcd.Endpoints);
        var lease = await c.LeaseGrantAsync(TimeSpan.FromSeconds(5));
        await c.PutAsync(Keys.Of("/l/k"), Keys.Of("x"), lease.Id);
        Assert.Equal(5, await c.LeaseKeepAliveAsync(lease.Id));
        Assert.InRange((await c.LeaseTimeToLiveAsync(lease.Id)).Ttl, 1, 5);
        await c.LeaseRevokeAsync(lease.Id);
        Assert.Empty((await c.GetAsync(Keys.Of("/l/k"))).Kvs);
        await c.LeaseRevokeAsync(lease.Id); // already gone: not an error
        Assert.Equal(0, await c.LeaseKeepAliveAsync(lease.Id));
    }

    [Fact]
    public async Task Watch_FromRevision_ThenCompacted()
    {
        using var c = TestNodes.Client(Etcd.Endpoints);
        var p = Keys.Of("/w/");
        var first = await c.PutAsync(Keys.Of("/w/1"), Keys.Of("a"));
        await c.PutAsync(Keys.Of("/w/2"), Keys.Of("b"));
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        var seen = new List<string>();
        await foreach (var r in c.WatchAsync(new WatchCreateRequest { Key = p, RangeEnd = Keys.PrefixEnd(p), StartRevision = first.Header.Revision }, cts.Token))
        {
            seen.AddRange(r.Events.Select(e => Keys.Text(e.Kv.Value)));
            if (seen.Count == 2)
            {
                break;
            }
        }

        Assert.Equal(["a", "b"], seen);
        var last = await c.PutAsync(Keys.Of("/w/3"), Keys.Of("c"));
        await c.CompactAsync(last.Header.Revision);
        var e = await Assert.ThrowsAsync<EtcdCompactedException>(async () =>
        {
            await foreach (var _ in c.WatchAsync(new WatchCreateRequest { Key = p, RangeEnd = Keys.PrefixEnd(p), StartRevision = first.Header.Revision }, cts.Token))
            {
            }
        });
        Assert.Equal(last.Header.Revision, e.CompactRevision);
    }

    [Fact]
    public async Task Failover_DeadFirstEndpoint_NextOneAnswers()
    {
        var dead = new Uri("http://127.0.0.1:9");
        using var c = TestNodes.Client([dead, Etcd.Endpoint(0)]);
        await c.PutAsync(Keys.Of("/f"), Keys.Of("x"));
        Assert.Equal(Etcd.Endpoint(0), c.CurrentEndpoint);
        // A transaction that never reached the dead member moves on too: nothing was sent.
        using var c2 = TestNodes.Client([dead, Etcd.Endpoint(0)]);
        Assert.True((await c2.TxnAsync(new TxnRequest { Compare = [Compare.VersionIs(Keys.Of("/f"), 1)] })).Succeeded);
    }

    [Fact]
    public async Task NothingAnswers_UnavailableNamesEndpoints()
    {
        using var c = TestNodes.Client([new Uri("http://127.0.0.1:9")]);
        var e = await Assert.ThrowsAsync<EtcdUnavailableException>(() => c.GetAsync(Keys.Of("/x")));
        Assert.Contains("127.0.0.1:9", e.Message, StringComparison.Ordinal);
        Assert.Contains("quorum", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TxnSentToAFrozenMember_OutcomeUnknown_NotRetried()
    {
        using var c = TestNodes.Client(Etcd.Endpoints, TimeSpan.FromMilliseconds(500));
        await c.PutAsync(Keys.Of("/u"), Keys.Of("0"));
        Etcd.Pause(0);
        try
        {
            var sw = Stopwatch.StartNew();
            await Assert.ThrowsAsync<EtcdOutcomeUnknownException>(() => c.TxnAsync(new TxnRequest { Success = [RequestOp.Put(Keys.Of("/u"), Keys.Of("1"))] }));
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(3), "one attempt, no retries");
        }
        finally
        {
            Etcd.Resume(0);
        }

        // The outcome is settled by reading back.
        var value = Keys.Text((await c.GetAsync(Keys.Of("/u"))).Kvs[0].Value);
        Assert.True(value is "0" or "1", value);
    }

    [Fact]
    public void Options_Invalid_ClearMessages()
    {
        Assert.Contains("at least one endpoint", Assert.Throws<ArgumentException>(() => new EtcdOptions().Validate()).Message, StringComparison.Ordinal);
        Assert.Contains("http://", Assert.Throws<ArgumentException>(() => new EtcdOptions { Endpoints = [new Uri("ftp://x")] }.Validate()).Message, StringComparison.Ordinal);
        Assert.Contains("3-60 s", Assert.Throws<ArgumentException>(() => new ClusterOptions { SessionTtl = TimeSpan.FromSeconds(1) }.Validate()).Message, StringComparison.Ordinal);
        Assert.Contains("host name", Assert.Throws<ArgumentException>(() => new ClusterOptions { Host = "a/b" }.Validate()).Message, StringComparison.Ordinal);
        Assert.Contains("operation id", Assert.Throws<ArgumentException>(() => OperationIds.Validate("../x")).Message, StringComparison.Ordinal);
    }
}
