namespace VgMesh.Lab.Tests;

[Collection("three-host-lab")]
public class FaultTests(ThreeHostLabFixture f)
{
    /// <summary>The address of the lab's PostgreSQL (the coordinator journal), on the cluster network's bridge.</summary>
    private string Postgres => f.Env["VGMESH_LAB_POSTGRES"].Split(':')[0];

    /// <summary>curl's exit code for a TCP connection to the journal's port: 52 or 56 when PostgreSQL answered and closed on the HTTP it got, 7 or 28 when nothing answered.</summary>
    private async Task<int> ReachPostgresAsync(string host) =>
        (await f.Lab.ExecAsync(host, ["curl", "-sS", "-m", "2", $"http://{f.Env["VGMESH_LAB_POSTGRES"]}/"])).ExitCode;

    [Fact]
    public async Task Pause_HostAnswersNothing_UntilResumed()
    {
        await f.Lab.FaultAsync(LabFault.Pause, "node2");
        try
        {
            Assert.Contains("paused", await f.Lab.StatusAsync(), StringComparison.Ordinal);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(4));
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => f.Lab.ExecAsync("node2", ["true"], cts.Token));
        }
        finally
        {
            await f.Lab.FaultAsync(LabFault.Resume, "node2");
        }

        Assert.Equal("node2", (await f.OnAsync("node2", "hostname")).Trim());
    }

    [Fact]
    public async Task Partition_HostReachesNeitherTheJournalNorPeers_UntilHealed()
    {
        var peer = f.Env["VGMESH_LAB_NODE1_SAN"];
        Assert.Contains(await ReachPostgresAsync("node3"), new[] { 52, 56 });
        await f.Lab.FaultAsync(LabFault.Partition, "node3");
        try
        {
            Assert.Contains("[partitioned]", await f.Lab.StatusAsync(), StringComparison.Ordinal);
            Assert.Contains(await ReachPostgresAsync("node3"), new[] { 7, 28 });
            Assert.NotEqual(0, (await f.Lab.ExecAsync("node3", ["busybox", "ping", "-c", "1", "-W", "1", Postgres])).ExitCode);
            Assert.NotEqual(0, (await f.Lab.ExecAsync("node3", ["busybox", "ping", "-c", "1", "-W", "1", peer])).ExitCode);
            // The rest of the cluster is unaffected.
            Assert.Equal(0, (await f.Lab.ExecAsync("node2", ["busybox", "ping", "-c", "1", "-W", "1", peer])).ExitCode);
        }
        finally
        {
            await f.Lab.FaultAsync(LabFault.Heal, "node3");
        }

        Assert.Equal(0, (await f.Lab.ExecAsync("node3", ["busybox", "ping", "-c", "1", "-W", "2", peer])).ExitCode);
        Assert.Contains(await ReachPostgresAsync("node3"), new[] { 52, 56 });
    }

    [Fact]
    public async Task Exec_PassesArgumentsStdoutStderrAndExitCodeUnchanged()
    {
        var r = await f.Lab.ExecAsync("node1", ["sh", "-c", "printf '%s|' \"$@\"; echo oops >&2; exit 42", "sh", "a b", "c'd", "$HOME", "*"]);
        Assert.Equal(42, r.ExitCode);
        Assert.Equal("a b|c'd|$HOME|*|", r.Stdout);
        Assert.Equal("oops\n", r.Stderr);
    }

    [Fact]
    public async Task BadInput_ClearErrors()
    {
        var unknownHost = await f.Lab.ExecAsync("node9", ["true"]);
        Assert.Equal(1, unknownHost.ExitCode);
        Assert.Contains("host 'node9' is not in lab 'labtest'", unknownHost.Stderr, StringComparison.Ordinal);
        var notAHost = await Lab.RunAsync([Lab.Script, "--name", "labtest", "crash", "postgres"]);
        Assert.Contains("'postgres' is not a lab host name", notAHost.Stderr, StringComparison.Ordinal);
        var badName = await Lab.RunAsync([Lab.Script, "--name", "Bad_Name", "status"]);
        Assert.Contains("lab name 'Bad_Name' is not valid", badName.Stderr, StringComparison.Ordinal);
        var notUp = await Lab.RunAsync([Lab.Script, "--name", "nosuchlab", "status"]);
        Assert.Contains("lab 'nosuchlab' is not up", notUp.Stderr, StringComparison.Ordinal);
    }
}
