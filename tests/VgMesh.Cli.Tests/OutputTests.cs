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
    public void HostText_Preempted_NoReservation()
    {
        var text = Output.HostText(Host("node1", Luna with { Registration = "preempted", Holder = null, ReservationType = null }));
        Assert.Contains("key 0x766d00000000abcd preempted", text, StringComparison.Ordinal);
        Assert.Contains("reservation: none held", text, StringComparison.Ordinal);
    }
}
