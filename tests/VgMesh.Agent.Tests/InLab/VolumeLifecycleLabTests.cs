using System.Text.Json;
using VgMesh.Client;

namespace VgMesh.Agent.Tests.InLab;

/// <summary>Snapshot, merge, rename, shared activation, host show and events, across three hosts.</summary>
[Collection("agent-lab")]
public class VolumeLifecycleLabTests(AgentLabFixture f)
{
    private static readonly string[] Hosts = ["node1", "node2", "node3"];

    private Task<string> Head(string host, string lv) => f.Lab.ExecOkAsync(host, ["sh", "-c", $"dd if=/dev/san/{lv} bs=4 count=1 2>/dev/null"]);

    private Task Write(string host, string lv, string text) => f.Lab.ExecOkAsync(host, ["sh", "-c", $"printf {text} | dd of=/dev/san/{lv} conv=notrunc,fsync 2>/dev/null"]);

    /// <summary>A host that is not the coordinator, so a change of an LV active there must be delegated.</summary>
    private async Task<(string Holder, string Other)> NotTheCoordinatorAsync()
    {
        var leader = (await f.StatusAsync()).Leader;
        var others = Hosts.Where(h => h != leader).ToList();
        return (others[0], others[1]);
    }

    [Fact]
    public async Task SnapshotOfAnLvActiveOnAPeer_RunsInThePeersKernel_MergeRestoresTheData()
    {
        var (holder, other) = await NotTheCoordinatorAsync();
        await f.OkAsync("node1", "lv", "create", "l1", "--size", "32M");
        await f.OkAsync("node1", "lv", "activate", "l1", "--exclusive", "--host", holder);
        await Write(holder, "l1", "AAAA");

        var snap = await f.OkAsync(other, "lv", "snapshot", "l1", "--name", "l1snap", "--size", "8M", "--chunk-size", "16K");
        Assert.Contains($"on {holder}, where the origin is active", snap.Message, StringComparison.Ordinal);
        // The holder's origin now copies on write into the snapshot; no other host maps either.
        Assert.Contains("snapshot-origin", await f.Lab.ExecOkAsync(holder, ["dmsetup", "table", "san-l1"]), StringComparison.Ordinal);
        Assert.NotNull(await f.TableSectorsAsync(holder, "san-l1snap"));
        foreach (var h in Hosts.Where(h => h != holder))
        {
            Assert.Null(await f.TableSectorsAsync(h, "san-l1snap"));
        }

        await Write(holder, "l1", "BBBB");
        Assert.Equal("AAAA", await Head(holder, "l1snap"));

        // Its store grows where it is active (the -cow layer's table from the new metadata, the
        // origin never suspended), and then takes more than the 8 MiB it was made with.
        var grown = await f.OkAsync(other, "lv", "extend", "l1snap", "--size", "+8M");
        Assert.Contains($"on {holder}, where it is active", grown.Message, StringComparison.Ordinal);
        Assert.Equal(32768, await f.TableSectorsAsync(holder, "san-l1snap-cow"));
        // ... loaded through device-mapper's ioctls, not LVM's refresh (which it falls back to, saying why).
        Assert.DoesNotContain(await f.AgentLogAsync(holder), l => l.Contains("growing the store of snapshot san/l1snap through LVM's refresh", StringComparison.Ordinal));
        await f.Lab.ExecOkAsync(holder, ["dd", "if=/dev/zero", "of=/dev/san/l1", "bs=1M", "seek=1", "count=12", "oflag=direct", "conv=notrunc", "status=none"]);
        Assert.DoesNotContain("Invalid", await f.Lab.ExecOkAsync(holder, ["dmsetup", "status", "san-l1snap"]), StringComparison.Ordinal);
        Assert.Equal("AAAA", await Head(holder, "l1snap"));
        var merged = await f.OkAsync(other, "lv", "merge", "l1snap");
        Assert.Contains($"on {holder}", merged.Message, StringComparison.Ordinal);
        Assert.Equal("AAAA", await Head(holder, "l1"));
        await AgentLabFixture.EventuallyAsync(() => f.CliAsync("node1", "lv", "show", "l1snap"), r => r.ExitCode == 1, TimeSpan.FromSeconds(30), "the merged snapshot is gone");
    }

    [Fact]
    public async Task ExtendOfAnLvActiveOnAPeer_RunsOnThatPeer()
    {
        var (holder, other) = await NotTheCoordinatorAsync();
        await f.OkAsync("node1", "lv", "create", "l2", "--size", "16M");
        await f.OkAsync("node1", "lv", "activate", "l2", "--exclusive", "--host", holder);
        var extended = await f.OkAsync(other, "lv", "extend", "l2", "--size", "+16M");
        Assert.Contains($"on {holder}, where it is active", extended.Message, StringComparison.Ordinal);
        Assert.Equal(65536, await f.TableSectorsAsync(holder, "san-l2"));
    }

    [Fact]
    public async Task Rename_RefusedWhileActive_MovesTheClaimWhenInactive()
    {
        await f.OkAsync("node1", "lv", "create", "l3", "--size", "16M");
        await f.OkAsync("node1", "lv", "activate", "l3", "--exclusive", "--host", "node3");
        var before = await f.SeqnoAsync();
        var busy = await f.CliAsync("node2", "lv", "rename", "l3", "l3b");
        Assert.Equal(1, busy.ExitCode);
        Assert.Contains("LvInUse(node3)", busy.Stderr, StringComparison.Ordinal);
        Assert.Equal(before, await f.SeqnoAsync());

        await f.OkAsync("node1", "lv", "deactivate", "l3");
        await f.OkAsync("node2", "lv", "rename", "l3", "l3b");
        var shown = JsonSerializer.Deserialize((await f.CliAsync("node3", "lv", "show", "l3b")).Stdout, ApiJsonContext.Default.LvView)!;
        Assert.Equal("inactive", shown.ClaimMode);
        Assert.Equal(1, (await f.CliAsync("node3", "lv", "show", "l3")).ExitCode);

        var hostile = await f.CliAsync("node1", "lv", "rename", "l3b", "../x");
        Assert.Equal(1, hostile.ExitCode);
        Assert.Contains("invalid-name", hostile.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SharedActivation_ExtendRefreshesEveryHolder_ShrinkAndSnapshotRefused()
    {
        await f.OkAsync("node1", "lv", "create", "l4", "--size", "16M");
        await f.OkAsync("node1", "lv", "activate", "l4", "--shared", "--host", "node1");
        await f.OkAsync("node3", "lv", "activate", "l4", "--shared", "--host", "node2");
        Assert.NotNull(await f.TableSectorsAsync("node1", "san-l4"));
        Assert.NotNull(await f.TableSectorsAsync("node2", "san-l4"));
        Assert.Null(await f.TableSectorsAsync("node3", "san-l4"));

        var before = await f.SeqnoAsync();
        var shrink = await f.CliAsync("node3", "lv", "reduce", "l4", "--size", "-8M");
        Assert.Equal(1, shrink.ExitCode);
        Assert.Contains("in-use", shrink.Stderr, StringComparison.Ordinal);
        var snap = await f.CliAsync("node3", "lv", "snapshot", "l4", "--name", "l4snap", "--size", "4M");
        Assert.Equal(1, snap.ExitCode);
        Assert.Contains("LvInUse(node1, node2)", snap.Stderr, StringComparison.Ordinal);
        var exclusive = await f.CliAsync("node3", "lv", "activate", "l4", "--shared", "--exclusive");
        Assert.Equal(2, exclusive.ExitCode);
        Assert.Equal(before, await f.SeqnoAsync());

        await f.OkAsync("node3", "lv", "extend", "l4", "--size", "32M");
        // Both holders' kernels have the new size when the answer comes.
        Assert.Equal(65536, await f.TableSectorsAsync("node1", "san-l4"));
        Assert.Equal(65536, await f.TableSectorsAsync("node2", "san-l4"));

        await f.OkAsync("node2", "lv", "deactivate", "l4", "--host", "node1");
        Assert.Null(await f.TableSectorsAsync("node1", "san-l4"));
        Assert.NotNull(await f.TableSectorsAsync("node2", "san-l4"));
        await f.OkAsync("node2", "lv", "deactivate", "l4");
        foreach (var h in Hosts)
        {
            Assert.Null(await f.TableSectorsAsync(h, "san-l4"));
        }
    }

    [Fact]
    public async Task BadSnapshotAndMergeInput_ClearErrorChangesNothing()
    {
        await f.OkAsync("node1", "lv", "create", "l5", "--size", "16M");
        var before = await f.SeqnoAsync();
        var chunk = await f.CliAsync("node2", "lv", "snapshot", "l5", "--name", "l5s", "--size", "4M", "--chunk-size", "3K");
        Assert.Equal(1, chunk.ExitCode);
        Assert.Contains("invalid-size", chunk.Stderr, StringComparison.Ordinal);
        var notSnap = await f.CliAsync("node2", "lv", "merge", "l5");
        Assert.Equal(1, notSnap.ExitCode);
        Assert.Contains("is not a snapshot", notSnap.Stderr, StringComparison.Ordinal);
        var noOrigin = await f.CliAsync("node2", "lv", "snapshot", "nope5", "--name", "l5s", "--size", "4M");
        Assert.Equal(1, noOrigin.ExitCode);
        Assert.Contains("not-found", noOrigin.Stderr, StringComparison.Ordinal);
        Assert.Equal(before, await f.SeqnoAsync());
    }

    [Fact]
    public async Task HostShowAndEvents_TellWhatHappened()
    {
        var created = await f.OkAsync("node1", "lv", "create", "l6", "--size", "16M");
        await f.OkAsync("node1", "lv", "activate", "l6", "--exclusive", "--host", "node3");
        var host = JsonSerializer.Deserialize((await f.CliAsync("node2", "host", "show", "node3")).Stdout, ApiJsonContext.Default.HostView)!;
        Assert.True(host.Alive);
        Assert.Contains("l6", host.ActiveLvs);
        Assert.Equal(1, (await f.CliAsync("node2", "host", "show", "node9")).ExitCode);

        var lines = (await f.CliAsync("node2", "events", "--after", (created.Revision - 1).ToString(System.Globalization.CultureInfo.InvariantCulture))).Stdout
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonSerializer.Deserialize(l, ApiJsonContext.Default.EventView)!).ToList();
        Assert.Contains(lines, e => e.Kind == "lv.created" && e.Subject == "san/l6" && e.Revision == created.Revision && e.VgSeqno > 0);
        Assert.Contains(lines, e => e.Kind == "lv.claimed" && e.Subject == "san/l6");
    }
}
