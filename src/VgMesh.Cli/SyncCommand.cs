using System.CommandLine;
using System.Globalization;
using System.Runtime.CompilerServices;
using VgMesh.Client;
using VgMesh.Sync;

namespace VgMesh.Cli;

/// <summary>
/// <c>vgmesh sync SNAPSHOT --to DEST</c>: the snapshot's changed chunks, read by the agent on the
/// host where it is active, written to stdout (<c>-</c>) or applied to a device or image file
/// here, or sent over ssh to <c>vgmesh sync --apply</c> on another machine (<see cref="SshDestination"/>).
/// <c>vgmesh sync --apply STREAM DEST</c> applies a saved stream (or a snapback) here.
/// </summary>
internal static class SyncCommand
{
    public static Command Command()
    {
        var target = new Argument<string>("SNAPSHOT|DEST") { Description = "The snapshot to send; with --apply, the device or image file to write." };
        var to = new Option<string?>("--to") { Description = "Where the delta goes: - (stdout), an LV of the cluster by name (written by the agent where it is active), a device or image file on this host (written here), or ssh://[USER@]HOST[:PORT]/DEVICE (applied there by 'vgmesh sync --apply - DEVICE' over ssh).", HelpName = "DEST" };
        var sshOption = new Option<string[]>("--ssh-option") { Description = "With an ssh:// destination: an ssh_config option for ssh -o, like IdentityFile=/root/.ssh/id_sync (repeatable).", HelpName = "KEY=VALUE" };
        var remoteVgmesh = new Option<string>("--remote-vgmesh") { Description = "With an ssh:// destination: the vgmesh to run there (an absolute path when it is not on the remote PATH).", HelpName = "PATH", DefaultValueFactory = _ => "vgmesh" };
        var apply = new Option<string?>("--apply") { Description = "Apply a saved stream (a file, or - for stdin) to DEST instead of sending.", HelpName = "STREAM" };
        var format = new Option<string>("--format") { Description = "The stream's format when sending: vgmesh (checked end to end) or lvmsync (lvmsync 3.x's own).", HelpName = "FORMAT", DefaultValueFactory = _ => "vgmesh" };
        format.AcceptOnlyFromAmong("vgmesh", "lvmsync");
        var snapback = new Option<string?>("--snapback") { Description = "First save what the apply overwrites to FILE; applying FILE later undoes it exactly.", HelpName = "FILE" };
        target.CompletionSources.Add(ctx => Completion.LvNames(ctx));
        var c = new Command("sync", "Send only the chunks a snapshot recorded as changed (lvmsync-style), or apply such a stream, with an optional snapback for rollback.")
        {
            target, to, apply, format, snapback, sshOption, remoteVgmesh,
        };
        c.Validators.Add(r =>
        {
            if ((r.GetValue(to) is null) == (r.GetValue(apply) is null))
            {
                r.AddError("give either --to DEST (send SNAPSHOT) or --apply STREAM (apply to DEST)");
            }
        });
        c.SetAction((p, ct) =>
        {
            var (stdout, stderr) = (p.InvocationConfiguration.Output, p.InvocationConfiguration.Error);
            var json = p.GetValue(CliCommands.Json);
            return p.GetValue(apply) is { } stream
                ? SyncErrors.RunAsync(() => ApplyAsync(stream, p.GetValue(target)!, p.GetValue(snapback), json, stdout, stderr), stderr, p.GetValue(snapback))
                : p.GetValue(to) is { } dest && SshDestination.IsSsh(dest)
                ? CliApp.WithClientAsync(p, (client, j, o, e, t) => SyncErrors.RunAsync(() => SendOverSshAsync(client, p.GetValue(target)!, SshDestination.Parse(dest),
                    new SshSettings(p.GetValue(sshOption) ?? [], p.GetValue(remoteVgmesh)!), p.GetValue(format)!, p.GetValue(snapback), j, e, t), e, p.GetValue(snapback)), ct)
                : CliApp.WithClientAsync(p, (client, j, o, e, t) => SyncErrors.RunAsync(() => SendAsync(client, p.GetValue(target)!, p.GetValue(to)!, p.GetValue(format)!, p.GetValue(snapback), j, o, e, t), e, p.GetValue(snapback)), ct);
        });
        return c;
    }

    private static async Task<int> SendAsync(VgMeshClient client, string snapshot, string dest, string format, string? snapback, bool json, TextWriter stdout, TextWriter stderr, CancellationToken ct)
    {
        if (dest != "-" && !dest.Contains('/', StringComparison.Ordinal))
        {
            // An LV of the cluster: written by the agent of the host where it is active.
            var shown = ProgressLine.For(stderr, json);
            var done = await client.SyncToLvAsync(dest, snapshot, format, snapback, shown is null ? null : b => shown(b, 0), ct).ConfigureAwait(false);
            if (shown is not null)
            {
                await stderr.WriteLineAsync().ConfigureAwait(false);
            }

            await (json ? stdout : stderr).WriteLineAsync(json ? System.Text.Json.JsonSerializer.Serialize(done, ApiJsonContext.Default.SyncResultView)
                : string.Create(CultureInfo.InvariantCulture, $"applied {done.Records} records, {done.Bytes} bytes, to {done.Lv} on {done.Host} in {done.Seconds:0.0} s{(done.Snapback is null ? "" : $"; snapback in {done.Snapback} on {done.Host}")}")).ConfigureAwait(false);
            return ExitCodes.Ok;
        }

        if (dest != "-" && !Path.IsPathFullyQualified(dest))
        {
            throw new SyncException("bad-destination", $"--to {dest}: give -, an LV of the cluster (its name), the absolute path of a device or image file on this host, or ssh://HOST/DEVICE.");
        }

        if (dest == "-" && snapback is not null)
        {
            throw new SyncException("bad-destination", "--snapback needs a destination written here, not - (save the stream, then apply it with --snapback).");
        }

        var progress = ProgressLine.For(stderr, json);
        if (dest == "-")
        {
            await using var input = await client.OpenDeltaAsync(snapshot, format, ct).ConfigureAwait(false);
            var started = TimeProvider.System.GetTimestamp();
            await using var output = Console.OpenStandardOutput();
            var sent = new StrongBox<long>();
            await CopyAsync(input, output, progress, sent, ct).ConfigureAwait(false);
            await stderr.WriteLineAsync($"{(progress is null ? "" : "\n")}sent {snapshot}'s delta: {sent.Value} bytes in {TimeProvider.System.GetElapsedTime(started).TotalSeconds:0.0} s").ConfigureAwait(false);
            return ExitCodes.Ok;
        }

        // The destination first: a missing or unwritable one is refused before the holder reads anything.
        using var target = BlockFile.Open(dest, write: true);
        await using var delta = await client.OpenDeltaAsync(snapshot, format, ct).ConfigureAwait(false);
        return await Task.Run(() => Apply(delta, target, snapback, json, stdout, stderr, progress), ct).ConfigureAwait(false);
    }

    private sealed record SshSettings(IReadOnlyList<string> Options, string RemoteVgmesh);

    /// <summary>
    /// Streams the delta into <c>ssh HOST vgmesh sync --apply - DEVICE</c>: the remote vgmesh
    /// checks and applies it (and writes the snapback there), and its summary or error comes back
    /// on this command's stdout and stderr. Its exit code is this command's; ssh's own failure
    /// (255: no connection, refused key) is "unreachable".
    /// </summary>
    private static async Task<int> SendOverSshAsync(VgMeshClient client, string snapshot, SshDestination dest, SshSettings ssh, string format, string? snapback, bool json, TextWriter stderr, CancellationToken ct)
    {
        var argv = dest.Argv(ssh.RemoteVgmesh, ssh.Options, snapback, json); // everything checked before the holder reads anything

        await using var delta = await client.OpenDeltaAsync(snapshot, format, ct).ConfigureAwait(false);
        var psi = new System.Diagnostics.ProcessStartInfo(argv[0]) { RedirectStandardInput = true, UseShellExecute = false };
        foreach (var a in argv.Skip(1))
        {
            psi.ArgumentList.Add(a);
        }

        using var process = System.Diagnostics.Process.Start(psi) ?? throw new SyncException("ssh-failed", "ssh did not start; install openssh-client.");
        var progress = ProgressLine.For(stderr, json);
        var sent = new StrongBox<long>();
        try
        {
            await CopyAsync(delta, process.StandardInput.BaseStream, progress, sent, ct).ConfigureAwait(false);
            process.StandardInput.Close();
        }
        catch (IOException)
        {
            // The far side stopped reading (it refused the stream, or the connection went): its exit says why.
        }

        await process.WaitForExitAsync(ct).ConfigureAwait(false);
        if (process.ExitCode == 0)
        {
            return ExitCodes.Ok;
        }

        await stderr.WriteLineAsync($"vgmesh: {(process.ExitCode == 255 ? "unreachable" : "remote-failed")}: {string.Join(' ', argv)} exited {process.ExitCode} after {sent.Value} bytes of the stream were sent; its message is above").ConfigureAwait(false);
        return process.ExitCode == 255 ? ExitCodes.Unreachable : ExitCodes.Failed;
    }

    /// <summary>Passes the stream on as it arrives; <paramref name="sent"/> counts what went, also when the far side stops reading.</summary>
    private static async Task CopyAsync(Stream from, Stream to, Progress? progress, StrongBox<long> sent, CancellationToken ct)
    {
        var buffer = new byte[1 << 20];
        int n;
        while ((n = await from.ReadAsync(buffer, ct).ConfigureAwait(false)) > 0)
        {
            await to.WriteAsync(buffer.AsMemory(0, n), ct).ConfigureAwait(false);
            sent.Value += n;
            progress?.Invoke(sent.Value, 0);
        }

        await to.FlushAsync(ct).ConfigureAwait(false);
    }

    private static Task<int> ApplyAsync(string stream, string dest, string? snapback, bool json, TextWriter stdout, TextWriter stderr) => Task.Run(() =>
    {
        if (!Path.IsPathFullyQualified(dest))
        {
            throw new SyncException("bad-destination", $"{dest}: give the absolute path of the device or image file to write.");
        }

        using var target = BlockFile.Open(dest, write: true);
        using var input = stream == "-" ? Console.OpenStandardInput() : OpenStream(stream);
        return Apply(input, target, snapback, json, stdout, stderr, ProgressLine.For(stderr, json));
    });

    private static FileStream OpenStream(string path)
    {
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SyncException("not-found", $"{path}: cannot read the stream: {e.Message}");
        }
    }

    private static int Apply(Stream stream, BlockFile target, string? snapback, bool json, TextWriter stdout, TextWriter stderr, Progress? progress)
    {
        TransferSummary summary;
        // A record is read in three small pieces: unbuffered, each would be a read of the socket or pipe.
        using var buffered = stream is FileStream ? null : new BufferedStream(stream, 1 << 20);
        var input = buffered ?? stream;
        using (var reader = DeltaReader.Open(input, "the stream"))
        {
            using var snap = snapback is null ? null : SnapbackFile.Create(snapback);
            using var applier = new DeltaApplier(target, snap);
            if (reader.Header.Kind == DeltaKind.Snapback)
            {
                // A snapback goes in reverse, read again from its start.
                input.Seek(0, SeekOrigin.Begin);
                summary = applier.ApplySnapback(input, TimeProvider.System, progress);
            }
            else
            {
                summary = applier.Apply(reader, TimeProvider.System, progress);
            }
        }

        var line = $"applied {summary.Records} records, {summary.DataBytes} bytes, to {target.Path} in {summary.Took.TotalSeconds:0.0} s" + (snapback is null ? "" : $"; snapback in {snapback}");
        if (json)
        {
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{{\"records\":{summary.Records},\"bytes\":{summary.DataBytes},\"written\":{summary.BytesWritten},\"seconds\":{summary.Took.TotalSeconds:0.000}}}"));
        }
        else
        {
            stderr.WriteLine((progress is null ? "" : "\n") + line);
        }

        return ExitCodes.Ok;
    }
}

/// <summary>Progress on a terminal: bytes, rate and time left on one line; nothing with --json or when stderr is not a terminal.</summary>
internal static class ProgressLine
{
    public static Progress? For(TextWriter stderr, bool json)
    {
        if (json || Console.IsErrorRedirected || !ReferenceEquals(stderr, Console.Error))
        {
            return null;
        }

        var started = TimeProvider.System.GetTimestamp();
        var last = 0L;
        return (done, total) =>
        {
            var now = TimeProvider.System.GetTimestamp();
            if (now - last < TimeProvider.System.TimestampFrequency / 4)
            {
                return;
            }

            last = now;
            var seconds = Math.Max(0.001, TimeProvider.System.GetElapsedTime(started).TotalSeconds);
            var rate = done / seconds;
            var left = total > done && rate > 0 ? $", {(total - done) / rate:0} s left" : "";
            stderr.Write(string.Create(CultureInfo.InvariantCulture, $"\r{done / 1048576.0:0.0} MiB{(total > 0 ? $" of {total / 1048576.0:0.0} MiB" : "")}, {rate / 1048576.0:0.0} MiB/s{left}   "));
        };
    }
}

/// <summary>How a sync, backup or restore that stopped is reported: its code, why, and what was written.</summary>
internal static class SyncErrors
{
    public static async Task<int> RunAsync(Func<Task<int>> run, TextWriter stderr, string? snapback)
    {
        try
        {
            return await run().ConfigureAwait(false);
        }
        catch (SyncException e)
        {
            var written = e.BytesWritten == 0 ? "nothing was written" : $"{e.BytesWritten} bytes were written" + (snapback is null ? "" : $"; 'vgmesh sync --apply {snapback} DEST' undoes them");
            await stderr.WriteLineAsync($"vgmesh: {e.Code}: {e.Message} ({written})").ConfigureAwait(false);
            return ExitCodes.Failed;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            await stderr.WriteLineAsync($"vgmesh: io-error: {e.Message}. Check the path and its file system (writable, space left).").ConfigureAwait(false);
            return ExitCodes.Failed;
        }
    }
}
