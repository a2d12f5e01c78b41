using System.Buffers.Binary;
using VgMesh.Lvm.OnDisk;

namespace VgMesh.Lvm.Tests.OnDisk;

/// <summary>
/// Against the first 16 KiB of a real PV (Fixtures/pv-head.bin: the lab's /dev/ubda, VG san at
/// seqno 5, LV drift of 12 MiB with the snapshot drsnap of 4 MiB, recorded 2026-12-06 with
/// LVM 2.03.16), read with O_DIRECT as on a shared disk.
/// </summary>
public sealed class MetadataAreaTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vgmesh-mda-").FullName;

    private static string Fixture => Path.Combine(AppContext.BaseDirectory, "Fixtures", "pv-head.bin");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void RealPv_FingerprintAndText_GiveTheVg()
    {
        using var area = MetadataArea.Open(Fixture)!;
        var at = area.Fingerprint();
        var vg = MetadataText.Parse(area.Text(at));
        Assert.Equal(("san", 5L), (vg.Name, vg.Seqno));
        var drift = Assert.Single(vg.Lvs, l => l.Name == "drift");
        Assert.Equal(("Lo1agoS8cQFYnGfpEiZyrp0X4hbP6COj", 12L << 20, true), (drift.Uuid, drift.SizeBytes, drift.Plain));
        Assert.False(Assert.Single(vg.Lvs, l => l.Name == "drsnap").Plain);
        Assert.Equal(3, Assert.Contains("drift", vg.Linear).Sum(s => s.Extents));
    }

    [Fact]
    public void TextThatWrapsRoundTheBuffer_IsJoined()
    {
        using var real = MetadataArea.Open(Fixture)!;
        var at = real.Fingerprint();
        var text = File.ReadAllBytes(Fixture).AsSpan(4096 + (int)at.Offset, (int)at.Size).ToArray();

        // The same area with the text moved to its last 1000 bytes and on past the end, where it
        // continues right after the area's header, as LVM's circular buffer has it.
        var image = new byte[1 << 20];
        File.ReadAllBytes(Fixture).AsSpan(0, 4096 + 512).CopyTo(image);
        var mdaSize = (long)BinaryPrimitives.ReadUInt64LittleEndian(image.AsSpan(4096 + 32));
        Assert.Equal(image.Length - 4096L, mdaSize);
        var wrapAt = mdaSize - 1000;
        BinaryPrimitives.WriteUInt64LittleEndian(image.AsSpan(4096 + 40), (ulong)wrapAt);
        text.AsSpan(0, 1000).CopyTo(image.AsSpan(4096 + (int)wrapAt));
        text.AsSpan(1000).CopyTo(image.AsSpan(4096 + 512));
        var path = Path.Combine(_dir, "wrapped.img");
        File.WriteAllBytes(path, image);

        using var area = MetadataArea.Open(path)!;
        var wrapped = area.Fingerprint();
        Assert.Equal((wrapAt, at.Size, at.Checksum), (wrapped.Offset, wrapped.Size, wrapped.Checksum));
        Assert.Equal(real.Text(at), area.Text(wrapped));
    }

    [Fact]
    public void NotAPv_Refused()
    {
        var path = Path.Combine(_dir, "zeros.img");
        File.WriteAllBytes(path, new byte[8192]);
        Assert.Throws<IOException>(() => MetadataArea.Open(path));
    }
}
