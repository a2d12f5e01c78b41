namespace VgMesh.Lab.Tests;

/// <summary>A lab of its own, so that tearing it down disturbs no other test.</summary>
public class LifecycleTests
{
    [Fact]
    public async Task Down_LeavesNothingBehind_AndIsSafeTwice()
    {
        var lab = new Lab("labdown");
        var env = await lab.UpAsync(hosts: 1, diskSize: "256M");
        var dir = env["VGMESH_LAB_DIR"];
        var netns = env["VGMESH_LAB_NETNS"];
        var pid = int.Parse(File.ReadAllText(Path.Combine(dir, "node1", "pid")).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(Directory.Exists(dir));

        await lab.DownAsync();
        await lab.DownAsync();

        Assert.False(Directory.Exists(dir));
        Assert.False(File.Exists($"/run/netns/{netns}"));
        Assert.False(Directory.Exists($"/proc/{pid}"));
        var strays = await Lab.RunAsync(["pgrep", "-f", "umid=labdown-"]);
        Assert.Equal(1, strays.ExitCode);
    }
}
