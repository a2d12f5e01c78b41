using VgMesh.Client;

namespace VgMesh.Cli.Tests;

public class OutputTests
{
    private static HostView Host(string name, StorageView? storage) =>
        new(name, ["10.0.0.1:7400"], "", default, true, false, 5, 0, 0, ["vm1"], []) { MemberStatus = "up", Storage = storage };

    private static readonly StorageView Luna = new("/dev/mapper/luna", "0x766d00000000abcd", "registered", "0x766d00000000abcd", "Write Exclusive, registrants only",
        [new PathView("8:16", "active", 0), new PathView("8:32", "failed", 2)], new DateTimeOffset(2026, 12, 6, 21, 30, 5, TimeSpan.Zero));

    [Fact]
    public void HostTable_WithoutStorageFencing_HasNoStorageColumn() =>
        Assert.DoesNotContain("STORAGE", Output.HostTable([Host("node1", null)]), StringComparison.Ordinal);

    [Fact]
    public void HostTable_SaysRegistrationAndPathsUp()
    {
        var table = Output.HostTable([Host("node1", Luna), Host("node2", null)]).Split('\n');
        Assert.Contains("STORAGE", table[0], StringComparison.Ordinal);
        Assert.Contains("registered, 1/2 paths", table[1], StringComparison.Ordinal);
        Assert.Matches(@"^node2 .* vm1 +-$", table[2]);
    }

    [Fact]
    public void HostText_NamesEveryPathAndTheHolder()
    {
        var text = Output.HostText(Host("node1", Luna));
        Assert.Contains("storage /dev/mapper/luna: key 0x766d00000000abcd registered (read 21:30:05 UTC)", text, StringComparison.Ordinal);
        Assert.Contains("reservation: 0x766d00000000abcd (this host), Write Exclusive, registrants only", text, StringComparison.Ordinal);
        Assert.Contains("path 8:32: failed (2 failures)", text, StringComparison.Ordinal);
    }

    [Fact]
    public void HostText_Lockd_IdLocksAndTheLeasesRenewal()
    {
        var lockd = new LockdView("sanlock", 2, "started", "lvm_san", ["vm1"], ["fs1"], null, new DateTimeOffset(2026, 12, 7, 12, 0, 1, TimeSpan.Zero), 1.5, 1);
        var text = Output.HostText(Host("node2", null) with { Lockd = lockd });
        Assert.Contains("lvmlockd (sanlock): host_id 2, started, lockspace lvm_san (read 12:00:01 UTC)", text, StringComparison.Ordinal);
        Assert.Contains("LV locks held: vm1 (ex), fs1 (sh)", text, StringComparison.Ordinal);
        Assert.Contains("sanlock lease renewed 1.5 s before the read", text, StringComparison.Ordinal);

        var failing = Output.HostText(Host("node2", null) with { Lockd = lockd with { RenewedSecondsAgo = 14, RenewalResult = -202 } });
        Assert.Contains("sanlock lease renewed 14 s before the read, last renewal failed (-202)", failing, StringComparison.Ordinal);

        var refusal = new LockRefusalView(new DateTimeOffset(2026, 12, 7, 12, 0, 3, TimeSpan.Zero), "lvextend[812]", "lv", "vm1", "ex", "held by another host", "hand");
        var refused = Output.HostText(Host("node2", null) with { Lockd = lockd with { Refused = [refusal] } });
        Assert.Contains("refused by lvmlockd at 12:00:03 UTC: lvextend[812] (not vgmesh), ex lock of LV vm1: held by another host", refused, StringComparison.Ordinal);
    }

    [Fact]
    public void HostText_Preempted_NoReservation()
    {
        var text = Output.HostText(Host("node1", Luna with { Registration = "preempted", Holder = null, ReservationType = null }));
        Assert.Contains("key 0x766d00000000abcd preempted", text, StringComparison.Ordinal);
        Assert.Contains("reservation: none held", text, StringComparison.Ordinal);
    }
}
