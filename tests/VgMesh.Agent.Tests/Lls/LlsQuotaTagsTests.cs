using VgMesh.Agent.Lls;
using VgMesh.Lvm;

namespace VgMesh.Agent.Tests.Lls;

public class LlsQuotaTagsTests
{
    [Fact]
    public void Format_WritesTheSetLimitsInOrder_AndLvmTakesTheTag()
    {
        var set = new Dictionary<string, long?> { ["snapshots"] = 3, ["bytes"] = 1L << 30, ["snapshot-bytes"] = null };
        var tag = LlsQuotaTags.Format("node1/c1", set);
        Assert.Equal("lls.quota=node1/c1:bytes=1073741824:snapshots=3:snapshot-bytes=none", tag);
        Assert.Equal(tag, LvmNames.ValidateTag(tag));
        Assert.Null(LlsQuotaTags.Format("node1/c1", new Dictionary<string, long?>()));
    }

    [Fact]
    public void Parse_RoundTrips_AndIgnoresWhatItCannotRead()
    {
        var (owner, set) = LlsQuotaTags.Parse("lls.quota=node2/web:volumes=6:bytes=none")!.Value;
        Assert.Equal("node2/web", owner);
        Assert.Equal(6, set["volumes"]);
        Assert.Null(set["bytes"]);
        Assert.False(set.ContainsKey("snapshots"));

        Assert.Null(LlsQuotaTags.Parse("lls.owner=node1/c1"));
        Assert.Null(LlsQuotaTags.Parse("lls.quota=node1/c1:colour=blue"));
        Assert.Null(LlsQuotaTags.Parse("lls.quota=node1/c1:volumes=-1"));
        Assert.Null(LlsQuotaTags.Parse("lls.quota=node1/c1:volumes=99999999999"));
        Assert.Null(LlsQuotaTags.Parse("lls.quota=:bytes=1"));
    }

    [Fact]
    public void Apply_EachSetLimitOverTheConfiguredOne()
    {
        var configured = new LlsQuota { MaxBytes = 100, MaxVolumes = 3, MaxSnapshots = 1 };
        var q = LlsQuotaTags.Apply(configured, new Dictionary<string, long?> { ["bytes"] = null, ["snapshot-bytes"] = 50 });
        Assert.Equal(new LlsQuota { MaxBytes = null, MaxVolumes = 3, MaxSnapshots = 1, MaxSnapshotBytes = 50 }, q);
    }

    [Fact]
    public void Change_SetsLiftsAndInherits_AndRefusesUnknownLimitsOrValues()
    {
        var set = new Dictionary<string, long?> { ["bytes"] = 10, ["volumes"] = 2 };
        var next = LlsQuotaTags.Change(set, ["bytes=inherit", "volumes=none", "snapshots=4"]);
        Assert.False(next.ContainsKey("bytes"));
        Assert.Null(next["volumes"]);
        Assert.Equal(4, next["snapshots"]);
        Assert.Equal(10, set["bytes"]); // the input is not changed

        Assert.Throws<ArgumentException>(() => LlsQuotaTags.Change(set, ["colour=blue"]));
        Assert.Throws<ArgumentException>(() => LlsQuotaTags.Change(set, ["volumes=many"]));
        Assert.Throws<ArgumentException>(() => LlsQuotaTags.Change(set, ["volumes=99999999999"]));
        Assert.Equal(5L << 40, LlsQuotaTags.Change(set, ["bytes=5497558138880"])["bytes"]);
    }

    [Fact]
    public void Find_TheOwnersLimits_OrNone()
    {
        string[] tags = ["lls.quota=node1/c1:volumes=2", "lls.quota=node1/c2:bytes=5", "unrelated"];
        Assert.Equal(2, LlsQuotaTags.Find(tags, "node1/c1")["volumes"]);
        Assert.Empty(LlsQuotaTags.Find(tags, "node2/c1"));
        Assert.Empty(LlsQuotaTags.Find(null, "node1/c1"));
    }
}
