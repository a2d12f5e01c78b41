using VgMesh.Sync;

namespace VgMesh.Cli.Tests;

public class SshDestinationTests
{
    [Theory]
    [InlineData("ssh://backup1/dev/vg_bk/vm1", null, "backup1", null, "/dev/vg_bk/vm1")]
    [InlineData("ssh://root@10.0.0.5:2222/dev/mapper/vg-vm1", "root", "10.0.0.5", 2222, "/dev/mapper/vg-vm1")]
    [InlineData("ssh://sync_user@dr.example.net/srv/images/vm1.img", "sync_user", "dr.example.net", null, "/srv/images/vm1.img")]
    public void Parse_ReadsUserHostPortAndDevice(string dest, string? user, string host, int? port, string path) =>
        Assert.Equal(new SshDestination(user, host, port, path), SshDestination.Parse(dest));

    [Theory]
    [InlineData("ssh://-oProxyCommand=touch${IFS}x/dev/y")] // read by ssh as an option
    [InlineData("ssh://host/dev/x;reboot")]
    [InlineData("ssh://host/dev/$(reboot)")]
    [InlineData("ssh://host/dev/../etc/shadow")]
    [InlineData("ssh://host/dev/x y")]
    [InlineData("ssh://host")]
    [InlineData("ssh://host:0/dev/x")]
    [InlineData("ssh://host:70000/dev/x")]
    [InlineData("ssh://Root@host/dev/x")]
    [InlineData("ssh:///dev/x")]
    public void Parse_RefusesWhatCouldBeReadAsAnOptionOrShell(string dest)
    {
        var e = Assert.Throws<SyncException>(() => SshDestination.Parse(dest));
        Assert.Equal("bad-destination", e.Code);
        Assert.Contains("nothing was sent", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Argv_NeverPrompts_PassesOptions_AndQuotesTheRemoteCommand()
    {
        var d = SshDestination.Parse("ssh://root@node3:2222/dev/san/sd1");
        var argv = d.Argv("/opt/vgmesh/bin/vgmesh", ["IdentityFile=/root/.ssh/id_sync", "StrictHostKeyChecking=yes"], "/var/lib/vgmesh/snapbacks/sd1.1", json: true);
        Assert.Equal(
            ["ssh", "-o", "BatchMode=yes", "-p", "2222", "-l", "root", "-o", "IdentityFile=/root/.ssh/id_sync", "-o", "StrictHostKeyChecking=yes", "node3",
                "'/opt/vgmesh/bin/vgmesh' '--json' 'sync' '--apply' '-' '/dev/san/sd1' '--snapback' '/var/lib/vgmesh/snapbacks/sd1.1'"],
            argv);
        Assert.Equal("'vgmesh' 'sync' '--apply' '-' '/dev/san/sd1'", d.Argv("vgmesh", [], null)[^1]);
    }

    [Theory]
    [InlineData("-oProxyCommand=x")]
    [InlineData("User=x\nProxyCommand=y")]
    public void Argv_RefusesAnSshOptionThatIsNotKeyValue(string option) =>
        Assert.Throws<SyncException>(() => SshDestination.Parse("ssh://h/dev/x").Argv("vgmesh", [option], null));

    [Theory]
    [InlineData("relative/vgmesh", null)]
    [InlineData("vgmesh", "snap;reboot")]
    [InlineData("/usr/bin/vgmesh;reboot", null)]
    public void Argv_RefusesUnsafeRemotePaths(string remote, string? snapback) =>
        Assert.Throws<SyncException>(() => SshDestination.Parse("ssh://h/dev/x").Argv(remote, [], snapback));

    [Fact]
    public void Quote_KeepsASingleQuoteLiteral() => Assert.Equal("'a'\\''b'", SshDestination.Quote("a'b"));
}
