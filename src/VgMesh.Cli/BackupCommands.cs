using System.CommandLine;
using System.Globalization;
using VgMesh.Client;
using VgMesh.Sync;

namespace VgMesh.Cli;

/// <summary>
/// <c>vgmesh lv backup NAME --to FILE|DIR [--incremental]</c> and <c>vgmesh lv restore
/// FILE|DIR --to NAME|DEVICE</c>. The agent where the LV is active reads it through a snapshot
/// it removes again; this host writes the file (sparse: zero blocks become holes). An
/// incremental chain in DIR is <c>full.img</c> then <c>0001.delta</c>, <c>0002.delta</c>...;
/// each file appears only once complete.
/// </summary>
internal static class BackupCommands
{
    private const string Full = "full.img";

    public static Command Backup(Func<Argument<string>> lvName)
    {
        var name = lvName();
        var to = new Option<string>("--to") { Description = "The backup file, or with --incremental the chain's directory, on this host.", HelpName = "FILE|DIR", Required = true };
        var incremental = new Option<bool>("--incremental") { Description = "Keep a base snapshot; the next run into the same directory sends only what changed." };
        var cow = new Option<string?>("--cow-size") { Description = "Copy-on-write space of the snapshot while it is read (default a tenth of the LV, at least 16M).", HelpName = "SIZE" };
        var c = new Command("backup", "Back up an LV through a temporary snapshot (the LV stays in use), fully or incrementally.") { name, to, incremental, cow };
        c.SetAction((p, ct) => CliApp.WithClientAsync(p, (client, json, o, e, t) =>
            SyncErrors.RunAsync(() => BackupAsync(client, p.GetValue(name)!, p.GetValue(to)!, p.GetValue(incremental), p.GetValue(cow), json, o, e, t), e, null), ct));
        return c;
    }

    public static Command Restore()
    {
        var from = new Argument<string>("FILE|DIR") { Description = "A backup file, or an incremental chain's directory." };
        var to = new Option<string>("--to") { Description = "The LV (active on this host) or the device or image file to write.", HelpName = "NAME|DEVICE", Required = true };
        to.CompletionSources.Add(ctx => Completion.LvNames(ctx));
        var c = new Command("restore", "Write a backup back: the full image, then each delta of the chain in order.") { from, to };
        c.SetAction((p, ct) => CliApp.WithClientAsync(p, (client, json, o, e, t) =>
            SyncErrors.RunAsync(() => RestoreAsync(client, p.GetValue(from)!, p.GetValue(to)!, json, o, e, t), e, null), ct));
        return c;
    }

    private static async Task<int> BackupAsync(VgMeshClient client, string name, string to, bool incremental, string? cow, bool json, TextWriter stdout, TextWriter stderr, CancellationToken ct)
    {
        if (!Path.IsPathFullyQualified(to))
        {
            throw new SyncException("bad-destination", $"--to {to}: give an absolute path on this host.");
        }

        string target;
        bool fresh;
        if (incremental)
        {
            Directory.CreateDirectory(to);
            fresh = !File.Exists(Path.Combine(to, Full));
            target = fresh ? Path.Combine(to, Full) : Path.Combine(to, $"{Directory.GetFiles(to, "*.delta").Length + 1:0000}.delta");
        }
        else
        {
            if (File.Exists(to) || Directory.Exists(to))
            {
                throw new SyncException("backup-exists", $"{to} exists; name a new file (a backup never overwrites another).");
            }

            fresh = true;
            target = to;
        }

        var started = TimeProvider.System.GetTimestamp();
        var (kind, length, body) = await client.OpenBackupAsync(name, incremental, fresh, cow, ct).ConfigureAwait(false);
        await using (body.ConfigureAwait(false))
        {
            if (kind != (fresh ? "full" : "delta"))
            {
                throw new SyncException("backup-unexpected", $"the agent sent a '{kind}' backup where a {(fresh ? "full" : "delta")} one was due; nothing was kept.");
            }

            var partial = target + ".partial";
            var progress = ProgressLine.For(stderr, json);
            long written;
            try
            {
                written = await Task.Run(() => kind == "full" ? WriteSparse(body, partial, length, progress) : Copy(body, partial, progress), ct).ConfigureAwait(false);
            }
            catch
            {
                File.Delete(partial);
                throw;
            }

            File.Move(partial, target);
            var took = TimeProvider.System.GetElapsedTime(started).TotalSeconds;
            await (json ? stdout : stderr).WriteLineAsync(json
                ? string.Create(CultureInfo.InvariantCulture, $"{{\"file\":\"{target}\",\"kind\":\"{kind}\",\"bytes\":{written},\"seconds\":{took:0.000}}}")
                : $"{(progress is null ? "" : "\n")}backed up {name} ({kind}, {written} bytes) to {target} in {took:0.0} s").ConfigureAwait(false);
            return ExitCodes.Ok;
        }
    }

    /// <summary>The raw image, zero 4 KiB blocks left as holes; the exact length or an error.</summary>
    private static long WriteSparse(Stream body, string path, long? length, Progress? progress)
    {
        using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
        var block = new byte[BlockFile.Alignment];
        long at = 0;
        int n;
        while ((n = ReadBlock(body, block)) > 0)
        {
            if (block.AsSpan(0, n).ContainsAnyExcept((byte)0))
            {
                file.Position = at;
                file.Write(block, 0, n);
            }

            at += n;
            progress?.Invoke(at, length ?? 0);
        }

        if (length is { } expected && at != expected)
        {
            throw new SyncException("stream-truncated", $"the backup ended after {at} of {expected} bytes; nothing was kept.");
        }

        file.SetLength(at);
        file.Flush(flushToDisk: true);
        return at;
    }

    private static long Copy(Stream body, string path, Progress? progress)
    {
        // The delta is checked through before it is kept: a truncated or corrupt one is refused here, not at restore.
        using (var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
        {
            var buffer = new byte[1 << 20];
            int n;
            long at = 0;
            while ((n = body.Read(buffer)) > 0)
            {
                file.Write(buffer, 0, n);
                at += n;
                progress?.Invoke(at, 0);
            }

            file.Flush(flushToDisk: true);
        }

        using var check = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        using var reader = DeltaReader.Open(check, path);
        while (reader.Next(out _, out _))
        {
        }

        return check.Length;
    }

    private static async Task<int> RestoreAsync(VgMeshClient client, string from, string to, bool json, TextWriter stdout, TextWriter stderr, CancellationToken ct)
    {
        var device = to;
        if (!Path.IsPathFullyQualified(to))
        {
            var lv = await client.ShowLvAsync(to, ct).ConfigureAwait(false);
            device = $"/dev/{lv.Vg}/{lv.Name}";
            if (!File.Exists(device))
            {
                throw new SyncException("not-active", $"{lv.Vg}/{lv.Name} is not active on this host: activate it here first (vgmesh lv activate {lv.Name} --exclusive).");
            }
        }

        var chain = Directory.Exists(from)
            ? [Path.Combine(from, Full), .. Directory.GetFiles(from, "*.delta").Order(StringComparer.Ordinal)]
            : new[] { from };
        if (!File.Exists(chain[0]))
        {
            throw new SyncException("not-found", $"{chain[0]}: no backup there.");
        }

        var started = TimeProvider.System.GetTimestamp();
        using var target = BlockFile.Open(device, write: true);
        long bytes = 0;
        await Task.Run(() =>
        {
            using (var image = new FileStream(chain[0], FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20))
            {
                if (image.Length > target.Length)
                {
                    throw new SyncException("destination-too-small", $"{device} has {target.Length} bytes, the backup {image.Length}: extend it first. Nothing was written.");
                }

                using var buffer = new AlignedBuffer(DeltaLayout.MaxRecordBytes);
                int n;
                while ((n = ReadBlock(image, buffer.Span)) > 0)
                {
                    target.Write(buffer.Span[..n], bytes);
                    bytes += n;
                }
            }

            foreach (var delta in chain.Skip(1))
            {
                using var input = new FileStream(delta, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
                using var reader = DeltaReader.Open(input, delta);
                using var applier = new DeltaApplier(target, null);
                bytes += applier.Apply(reader, TimeProvider.System).BytesWritten;
            }

            target.Flush();
        }, ct).ConfigureAwait(false);
        var took = TimeProvider.System.GetElapsedTime(started).TotalSeconds;
        await (json ? stdout : stderr).WriteLineAsync(json
            ? string.Create(CultureInfo.InvariantCulture, $"{{\"device\":\"{device}\",\"files\":{chain.Length},\"bytes\":{bytes},\"seconds\":{took:0.000}}}")
            : $"restored {from} ({chain.Length} file{(chain.Length == 1 ? "" : "s")}, {bytes} bytes) to {device} in {took:0.0} s").ConfigureAwait(false);
        return ExitCodes.Ok;
    }

    private static int ReadBlock(Stream s, Span<byte> block) => s.ReadAtLeast(block, block.Length, throwOnEndOfStream: false);
}
