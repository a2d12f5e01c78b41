using System.Globalization;
using VgMesh.Sync;

namespace VgMesh.Bench;

/// <summary>
/// <c>vgmesh-bench random-writes --device DEV --fraction F --seed S</c>: writes F of the
/// device's 4 KiB blocks, chosen at random with a fixed seed (each block once), with O_DIRECT.
/// Inside a lab host it replaces thousands of dd processes, which user-mode Linux starts slowly.
/// </summary>
public static class RandomWrites
{
    public static int Run(string[] args)
    {
        string? device = null;
        double fraction = 0.1;
        var seed = 1205;
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--device": device = args[i + 1]; break;
                case "--fraction": fraction = double.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--seed": seed = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                default: Console.Error.WriteLine($"random-writes: unknown option {args[i]}"); return 2;
            }
        }

        if (device is null)
        {
            Console.Error.WriteLine("usage: vgmesh-bench random-writes --device DEV [--fraction 0.1] [--seed N]");
            return 2;
        }

        using var dev = BlockFile.Open(device, write: true);
        var blocks = dev.Length / BlockFile.Alignment;
        var count = (long)(blocks * fraction);
        var rng = new Random(seed);
        // A partial Fisher-Yates over the block numbers: each chosen block is written once.
        var order = new int[blocks];
        for (var i = 0; i < blocks; i++)
        {
            order[i] = i;
        }

        using var buffer = new AlignedBuffer(BlockFile.Alignment);
        for (long i = 0; i < count; i++)
        {
            var j = i + rng.NextInt64(blocks - i);
            (order[i], order[j]) = (order[j], order[i]);
            rng.NextBytes(buffer.Span);
            dev.Write(buffer.Span, (long)order[i] * BlockFile.Alignment);
        }

        dev.Flush();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{count} blocks of {BlockFile.Alignment} bytes written to {device}"));
        return 0;
    }
}
