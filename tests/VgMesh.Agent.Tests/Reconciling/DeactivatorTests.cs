using VgMesh.Agent.Reconciling;

namespace VgMesh.Agent.Tests.Reconciling;

/// <summary>The links a device removed with dmsetup leaves in /dev/VG without udev, in a temporary tree.</summary>
public sealed class DeactivatorTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("vgmesh-dev").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void Sweep_RemovesDeadLinksOnly()
    {
        var mapper = Directory.CreateDirectory(Path.Combine(_root, "mapper")).FullName;
        var vg = Directory.CreateDirectory(Path.Combine(_root, "san")).FullName;
        File.WriteAllText(Path.Combine(mapper, "san-alive"), "");
        File.CreateSymbolicLink(Path.Combine(vg, "alive"), Path.Combine(mapper, "san-alive"));
        File.CreateSymbolicLink(Path.Combine(vg, "gone"), Path.Combine(mapper, "san-gone"));
        File.WriteAllText(Path.Combine(vg, "not-a-link"), "");

        Deactivator.SweepDanglingLinksIn(vg);

        Assert.Equal(["alive", "not-a-link"], Directory.EnumerateFileSystemEntries(vg).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Sweep_NoSuchDirectory_DoesNothing() => Deactivator.SweepDanglingLinksIn(Path.Combine(_root, "absent"));
}
