namespace VgMesh.Agent.Tests.InLab;

/// <summary>The coordinated-operations scenarios on the lab's shared disk image.</summary>
[Collection("agent-lab")]
public sealed class VolumeOperationsLabTests(AgentLabFixture f) : VolumeOperationsScenarios(f)
{
    // Bad input is refused before any storage path matters, so these run in the main lab only
    // (also over iSCSI until 2026-12-07: 8 cases, about 40 s of ./ops/test's 40 minutes).
    [Theory]
    [InlineData("@all", "64M", "invalid-name")]
    [InlineData("-n", "64M", "invalid-name")]
    [InlineData("snapshot1", "64M", "invalid-name")]
    [InlineData("x_tmeta", "64M", "invalid-name")]
    [InlineData("ok6", "1X", "invalid-size")]
    [InlineData("ok6", "+5G", "invalid-size")]
    [InlineData("ok6", "100G", "insufficient-space")]
    public async Task Scenario6_BadCreate_ClearErrorChangesNothing(string name, string size, string code)
    {
        var before = await Fixture.SeqnoAsync();
        var r = await Fixture.CliAsync("node2", "lv", "create", name, "--size", size);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains(code + ":", r.Stderr, StringComparison.Ordinal);
        Assert.Equal(before, await Fixture.SeqnoAsync());
    }

    [Fact]
    public async Task Scenario6_UnknownHostAndUnknownLv_ClearErrorChangesNothing()
    {
        await Fixture.OkAsync("node1", "lv", "create", "s6", "--size", "16M");
        var before = await Fixture.SeqnoAsync();
        var unknown = await Fixture.CliAsync("node1", "lv", "activate", "s6", "--exclusive", "--host", "node9");
        Assert.Equal(1, unknown.ExitCode);
        Assert.Contains("unknown-host: host 'node9' is not a live member", unknown.Stderr, StringComparison.Ordinal);
        var missing = await Fixture.CliAsync("node1", "lv", "extend", "nope6", "--size", "+1G");
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("not-found", missing.Stderr, StringComparison.Ordinal);
        var shrink = await Fixture.CliAsync("node1", "lv", "extend", "s6", "--size", "-4M");
        Assert.Equal(1, shrink.ExitCode);
        Assert.Contains("invalid-size", shrink.Stderr, StringComparison.Ordinal);
        Assert.Equal(before, await Fixture.SeqnoAsync());
    }
}

/// <summary>The same scenarios with the VG on an iSCSI LUN through multipath, with storage fencing on.</summary>
[Collection("agent-iscsi-lab")]
public sealed class VolumeOperationsIscsiLabTests(IscsiAgentLabFixture f) : VolumeOperationsScenarios(f);

public abstract class VolumeOperationsScenarios(AgentLabFixture f)
{
    protected AgentLabFixture Fixture => f;

    // The reconcile interval, plus the pass's own time and the probes': on a lab host while a side
    // lab boots, a pass took over 5 s (the fresh-clone run of 00be18f) and a hand-removed LV's device
    // went 30 s after the lvremove (910f503's, over iSCSI).
    private static readonly TimeSpan OnePeriod = TimeSpan.FromSeconds(10 + 30);

    [Fact]
    public async Task Scenario1_CreateOnNode1_ClaimForNode2_ExtendFromNode3_Node2GrowsBeforeTheAnswer()
    {
        var created = await f.OkAsync("node1", "lv", "create", "s1", "--size", "64M");
        Assert.Equal("applied", created.Status);
        await f.OkAsync("node1", "lv", "activate", "s1", "--exclusive", "--host", "node2");
        Assert.Equal(131072, await f.TableSectorsAsync("node2", "san-s1"));
        Assert.Null(await f.TableSectorsAsync("node1", "san-s1"));
        Assert.Null(await f.TableSectorsAsync("node3", "san-s1"));

        var extended = await f.OkAsync("node3", "lv", "extend", "s1", "--size", "+32M");
        Assert.Equal(["node1", "node2", "node3"], extended.AppliedBy);
        // Read right after the answer, no waiting: node2's kernel already has the new size.
        Assert.Equal(196608, await f.TableSectorsAsync("node2", "san-s1"));
        Assert.True(extended.FencingToken > 0);
    }

    [Fact]
    public async Task Scenario2_RemoveWhileActiveOnNode2_Refused_ThenDeactivateRemove_NoDeviceAnywhere()
    {
        await f.OkAsync("node1", "lv", "create", "s2", "--size", "16M");
        await f.OkAsync("node1", "lv", "activate", "s2", "--exclusive", "--host", "node2");
        var before = await f.SeqnoAsync();
        var refused = await f.CliAsync("node1", "lv", "remove", "s2");
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("LvInUse(node2)", refused.Stderr, StringComparison.Ordinal);
        Assert.Equal(before, await f.SeqnoAsync());
        Assert.NotNull(await f.TableSectorsAsync("node2", "san-s2"));

        await f.OkAsync("node1", "lv", "deactivate", "s2");
        await f.OkAsync("node1", "lv", "remove", "s2");
        foreach (var h in new[] { "node1", "node2", "node3" })
        {
            Assert.DoesNotContain("san-s2", await f.Lab.ExecOkAsync(h, ["dmsetup", "ls"]), StringComparison.Ordinal);
            await AssertNoDevEntriesAsync(h, "s2");
        }
    }

    [Fact]
    public async Task Scenario3_HandRunExtendAndRemove_EveryHostConvergesWithinOnePeriod()
    {
        await f.OkAsync("node1", "lv", "create", "s3", "--size", "32M");
        await f.OkAsync("node1", "lv", "activate", "s3", "--exclusive", "--host", "node2");
        await f.Lab.ExecOkAsync("node3", ["lvm", "lvextend", "-q", "-L", "64M", "san/s3"]);
        await AgentLabFixture.EventuallyAsync(() => f.TableSectorsAsync("node2", "san-s3"), s => s == 131072, OnePeriod, "node2 refreshes after a hand-run lvextend");

        await f.Lab.ExecOkAsync("node3", ["lvm", "lvremove", "-q", "-y", "san/s3"]);
        await AgentLabFixture.EventuallyAsync(() => f.TableSectorsAsync("node2", "san-s3"), s => s is null, OnePeriod, "node2 removes the device of a hand-removed LV");
    }

    [Fact]
    public async Task ExclusiveHandoff_NeverActiveOnTwoHosts()
    {
        await f.OkAsync("node1", "lv", "create", "s5", "--size", "16M");
        await f.OkAsync("node1", "lv", "activate", "s5", "--exclusive", "--host", "node1");
        using var stop = new CancellationTokenSource();
        var overlaps = 0;
        var samples = 0;
        var watcher = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                // The target first and the source last: a device seen on node2 and then, later, still on node1
                // can only mean both were active at once. The other order could count a clean handoff that
                // happened between the two reads.
                var on = 0;
                foreach (var h in new[] { "node2", "node3", "node1" })
                {
                    on += await f.TableSectorsAsync(h, "san-s5") is null ? 0 : 1;
                }

                Interlocked.Increment(ref samples);
                overlaps += on > 1 ? 1 : 0;
            }
        });
        var handed = await f.OkAsync("node3", "lv", "activate", "s5", "--exclusive", "--host", "node2");
        // Keep watching for a while after the answer, however long each sample takes on the machine at hand.
        var after = Volatile.Read(ref samples);
        await AgentLabFixture.EventuallyAsync(() => Task.FromResult(Volatile.Read(ref samples)), n => n >= after + 3, TimeSpan.FromSeconds(90), "three samples after the handoff");
        await stop.CancelAsync();
        await watcher;
        Assert.Equal("applied", handed.Status);
        Assert.Equal(0, overlaps);
        Assert.Null(await f.TableSectorsAsync("node1", "san-s5"));
        Assert.NotNull(await f.TableSectorsAsync("node2", "san-s5"));
        await AssertNoDevEntriesAsync("node1", "s5"); // released by removing its device: nothing left in /dev
        await AssertNoDevEntriesAsync("node3", "s5"); // never held it (and released it after creating it, if it coordinates)
    }

    /// <summary>
    /// No /dev/mapper node and no /dev/VG link of the LV on a host where it is not active. The lab
    /// runs no udev, so whatever vgmesh leaves there stays.
    /// </summary>
    private async Task AssertNoDevEntriesAsync(string host, string lv)
    {
        var left = await f.Lab.ExecOkAsync(host, ["sh", "-c", $"ls -d /dev/mapper/san-{lv} /dev/san/{lv} 2>/dev/null || true"]);
        Assert.True(left.Trim().Length == 0, $"{host} still has {left.Trim()}");
    }
}
