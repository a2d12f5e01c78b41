namespace VgMesh.Lab.Tests;

[Collection("three-host-lab")]
public class FaultTests(ThreeHostLabFixture f)
{
    private string Etcd => f.Env["VGMESH_LAB_ETCD"];

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
    public async Task Partition_HostReachesNeitherEtcdNorPeers_UntilHealed()
    {
        var peer = f.Env["VGMESH_LAB_NODE1_SAN"];
        Assert.Contains("\"health\":\"true\"", await f.OnAsync("node3", "curl", "-sS", "-m", "3", $"{Etcd}/health"), StringComparison.Ordinal);
        await f.Lab.FaultAsync(LabFault.Partition, "node3");
        try
        {
            Assert.Contains("[partitioned]", await f.Lab.StatusAsync(), StringComparison.Ordinal);
            Assert.NotEqual(0, (await f.Lab.ExecAsync("node3", ["curl", "-sS", "-m", "2", $"{Etcd}/health"])).ExitCode);
            Assert.NotEqual(0, (await f.Lab.ExecAsync("node3", ["busybox", "ping", "-c", "1", "-W", "1", peer])).ExitCode);
            // The rest of the cluster is unaffected.
            Assert.Equal(0, (await f.Lab.ExecAsync("node2", ["busybox", "ping", "-c", "1", "-W", "1", peer])).ExitCode);
        }
        finally
        {
            await f.Lab.FaultAsync(LabFault.Heal, "node3");
        }

        Assert.Equal(0, (await f.Lab.ExecAsync("node3", ["busybox", "ping", "-c", "1", "-W", "2", peer])).ExitCode);
        Assert.Contains("\"health\":\"true\"", await f.OnAsync("node3", "curl", "-sS", "-m", "3", $"{Etcd}/health"), StringComparison.Ordinal);
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
        var notAHost = await Lab.RunAsync([Lab.Script, "--name", "labtest", "crash", "etcd"]);
        Assert.Contains("'etcd' is not a lab host name", notAHost.Stderr, StringComparison.Ordinal);
        var badName = await Lab.RunAsync([Lab.Script, "--name", "Bad_Name", "status"]);
        Assert.Contains("lab name 'Bad_Name' is not valid", badName.Stderr, StringComparison.Ordinal);
        var notUp = await Lab.RunAsync([Lab.Script, "--name", "nosuchlab", "status"]);
        Assert.Contains("lab 'nosuchlab' is not up", notUp.Stderr, StringComparison.Ordinal);
    }
}
