using System.Buffers.Binary;
using System.Globalization;
using VgMesh.Sync;

namespace VgMesh.Bench;

/// <summary>
/// The delta sender's memory as the delta grows: an exception store with N exceptions, built to
/// the kernel's layout (sparse files: only the metadata areas are written), over a sparse origin;
/// the real <see cref="DeltaSender"/> reads it and streams the delta to nowhere. Prints the
/// process's peak resident size (VmHWM) and the time, one JSON line per figure.
/// </summary>
public static class SyncSenderBench
{
    private const int Chunk = 4096;

    public static int Run(string[] args)
    {
        var chunks = args.Length > 1 && args[0] == "--chunks" ? long.Parse(args[1], CultureInfo.InvariantCulture) : 1_000_000;
        var dir = Directory.CreateTempSubdirectory("vgmesh-bench-sync").FullName;
        try
        {
            // The origin: four times the delta, so the changed chunks are scattered.
            var originBytes = chunks * Chunk * 4;
            var origin = Path.Combine(dir, "origin");
            using (var f = File.Create(origin))
            {
                f.SetLength(originBytes);
            }

            var cow = Path.Combine(dir, "cow");
            BuildStore(cow, chunks, originBytes / Chunk);
            var before = PeakKb();
            var time = TimeProvider.System;
            using var cowFile = BlockFile.Open(cow, write: false);
            using var originFile = BlockFile.Open(origin, write: false);
            var sum = DeltaSender.Send(cowFile, originFile, Stream.Null, DeltaFormat.VgMesh, time);
            var peakMb = PeakKb() / 1024.0;
            Figure($"sync_sender_peak_rss_{chunks}_chunks", peakMb, "MiB", 64);
            Figure($"sync_sender_seconds_{chunks}_chunks", sum.Took.TotalSeconds, "s", "null");
            Figure($"sync_sender_wire_per_changed_{chunks}_chunks", (double)sum.WireBytes / sum.DataBytes, "ratio", 1.01);
            Console.Error.WriteLine($"sync-sender: {chunks} chunks, {sum.Records} records, {sum.DataBytes} bytes, peak RSS {peakMb:0.0} MiB (before the send {before / 1024.0:0.0} MiB)");
            return 0;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Every fourth chunk of the origin changed, written in a scrambled order as the kernel would record them.</summary>
    private static void BuildStore(string path, long chunks, long originChunks)
    {
        const int epa = Chunk / 16;
        using var f = new FileStream(path, FileMode.Create, FileAccess.Write);
        var header = new byte[Chunk];
        BinaryPrimitives.WriteUInt32LittleEndian(header, CowStore.Magic);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(4), 1);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(8), 1);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(12), Chunk / 512);
        f.Write(header);
        var area = new byte[Chunk];
        long written = 0;
        for (long k = 0; written <= chunks; k++)
        {
            Array.Clear(area);
            for (var i = 0; i < epa && written < chunks; i++, written++)
            {
                // A permutation of every fourth chunk: i * 4 scattered by a multiplier co-prime with the count.
                var old = (written * 2654435761L % chunks) * 4 % originChunks;
                BinaryPrimitives.WriteUInt64LittleEndian(area.AsSpan(i * 16), (ulong)old);
                BinaryPrimitives.WriteUInt64LittleEndian(area.AsSpan(i * 16 + 8), (ulong)(1 + (epa + 1) * k + 1 + i));
            }

            f.Position = (1 + (epa + 1) * k) * Chunk;
            f.Write(area);
            if (written == chunks)
            {
                // The next area, all zero, ends the list.
                f.SetLength((1 + (epa + 1) * (k + 1) + 1) * Chunk);
                break;
            }
        }

    }

    private static long PeakKb() => long.Parse(File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);

    private static void Figure(string name, double value, string unit, object target) =>
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{{\"name\":\"{name}\",\"value\":{value:0.###},\"unit\":\"{unit}\",\"target\":{target}}}"));
}
