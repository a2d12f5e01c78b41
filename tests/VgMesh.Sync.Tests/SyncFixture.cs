using System.Buffers.Binary;
using System.Security.Cryptography;

namespace VgMesh.Sync.Tests;

/// <summary>Files standing in for devices, and exception stores built to the kernel's layout.</summary>
public sealed class SyncFixture : IDisposable
{
    public const int Chunk = 4096;

    public string Dir { get; } = Directory.CreateTempSubdirectory("vgmesh-sync").FullName;

    public void Dispose() => Directory.Delete(Dir, recursive: true);

    public string Path(string name) => System.IO.Path.Combine(Dir, name);

    public static byte[] Random(int length, int seed)
    {
        var b = new byte[length];
        new Random(seed).NextBytes(b);
        return b;
    }

    public string File(string name, byte[] content)
    {
        var p = Path(name);
        System.IO.File.WriteAllBytes(p, content);
        return p;
    }

    public static string Sha(string path) => Convert.ToHexString(SHA256.HashData(System.IO.File.ReadAllBytes(path)));

    /// <summary>
    /// An exception store as dm-snap-persistent writes it: header in chunk 0, metadata area k at
    /// chunk 1 + (epa + 1) * k, exceptions (old, new) little-endian, a zero new_chunk ending the list.
    /// </summary>
    public static byte[] CowStore(IReadOnlyList<long> oldChunks, int chunk = Chunk, uint magic = 0x70416e53, uint valid = 1)
    {
        var epa = chunk / 16;
        var areas = oldChunks.Count / epa + 1;
        var store = new byte[(1 + (long)(epa + 1) * areas) * chunk];
        BinaryPrimitives.WriteUInt32LittleEndian(store, magic);
        BinaryPrimitives.WriteUInt32LittleEndian(store.AsSpan(4), valid);
        BinaryPrimitives.WriteUInt32LittleEndian(store.AsSpan(8), 1);
        BinaryPrimitives.WriteUInt32LittleEndian(store.AsSpan(12), (uint)(chunk / 512));
        for (var i = 0; i < oldChunks.Count; i++)
        {
            var (area, slot) = (i / epa, i % epa);
            var at = (1 + (long)(epa + 1) * area) * chunk + slot * 16;
            BinaryPrimitives.WriteUInt64LittleEndian(store.AsSpan((int)at), (ulong)oldChunks[i]);
            // Where the kernel put the copy: right after the area, in order (any non-zero value ends nothing).
            BinaryPrimitives.WriteUInt64LittleEndian(store.AsSpan((int)at + 8), (ulong)((1 + (long)(epa + 1) * area) + 1 + slot));
        }

        return store;
    }
}
