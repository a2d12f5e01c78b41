namespace VgMesh.Sync;

/// <summary>What a transfer did, for the summary line and the API.</summary>
public sealed record TransferSummary(long Records, long DataBytes, long WireBytes, long BytesWritten, TimeSpan Took);

/// <summary>Progress of a long transfer: bytes done of the total (0 when unknown).</summary>
public delegate void Progress(long done, long total);

/// <summary>
/// Sends the chunks a classic snapshot recorded as changed, read from the origin, sorted and
/// merged, in constant memory: the changed-chunk bitmap (origin size / chunk / 8 bytes) and one
/// 4 MiB buffer, whatever the delta's size.
/// </summary>
public static class DeltaSender
{
    /// <summary>A classic snapshot's delta: the chunks its exception store lists, read from the origin.</summary>
    public static TransferSummary Send(BlockFile cow, BlockFile origin, Stream output, DeltaFormat format, TimeProvider time, Progress? progress = null)
    {
        ArgumentNullException.ThrowIfNull(cow);
        ArgumentNullException.ThrowIfNull(origin);
        ArgumentNullException.ThrowIfNull(time);
        var started = time.GetTimestamp();
        return Send(CowStore.Read(cow, origin.Length), origin, output, format, time, started, progress);
    }

    /// <summary>The chunks <paramref name="changed"/> names (a thin snapshot's, from <see cref="ThinDeltaReport"/>), read from the origin.</summary>
    public static TransferSummary Send(ChangedChunks changed, BlockFile origin, Stream output, DeltaFormat format, TimeProvider time, Progress? progress = null)
    {
        ArgumentNullException.ThrowIfNull(time);
        return Send(changed, origin, output, format, time, time.GetTimestamp(), progress);
    }

    private static TransferSummary Send(ChangedChunks changed, BlockFile origin, Stream output, DeltaFormat format, TimeProvider time, long started, Progress? progress)
    {
        ArgumentNullException.ThrowIfNull(changed);
        ArgumentNullException.ThrowIfNull(origin);
        if (changed.OriginBytes != origin.Length)
        {
            throw new SyncException("origin-short", $"{origin.Path} has {origin.Length} bytes, the changes were read for {changed.OriginBytes}: it was resized since. Nothing was sent.");
        }

        var total = Math.Min(changed.Count * changed.ChunkBytes, origin.Length);
        using var writer = new DeltaWriter(output, new DeltaHeader(format, DeltaKind.Delta, changed.ChunkBytes, origin.Length));
        using var buffer = new AlignedBuffer(DeltaLayout.MaxRecordBytes);
        // Extents close together are read in one I/O of up to 4 MiB, and sent from it: a delta of
        // scattered 4 KiB chunks is otherwise one synchronous read per chunk.
        var group = new List<(long Offset, int Length)>();
        foreach (var extent in changed.Extents(DeltaLayout.MaxRecordBytes))
        {
            if (group.Count > 0 && extent.Offset + extent.Length - group[0].Offset > DeltaLayout.MaxRecordBytes)
            {
                SendGroup(origin, writer, buffer, group, total, progress);
                group.Clear();
            }

            group.Add(extent);
        }

        SendGroup(origin, writer, buffer, group, total, progress);
        writer.Finish();
        return new TransferSummary(writer.Records, writer.DataBytes, writer.WireBytes, 0, time.GetElapsedTime(started));
    }

    /// <summary>
    /// Fewer than this many extents in a 4 MiB span are read one by one; more, the span at once
    /// (a 4 MiB read costs about what 16 random 4 KiB reads do in a lab host).
    /// </summary>
    private const int ReadSpanFrom = 8;

    private static void SendGroup(BlockFile origin, DeltaWriter writer, AlignedBuffer buffer, List<(long Offset, int Length)> group, long total, Progress? progress)
    {
        if (group.Count == 0)
        {
            return;
        }

        var start = group[0].Offset;
        var span = (int)(group[^1].Offset + group[^1].Length - start);
        var whole = group.Count >= ReadSpanFrom;
        if (whole && origin.Read(buffer.Span[..span], start) < span)
        {
            throw new SyncException("origin-short", $"{origin.Path} ended before {start + span}: it is smaller than when the snapshot was taken.");
        }

        foreach (var (offset, length) in group)
        {
            var data = whole ? buffer.Span.Slice((int)(offset - start), length) : buffer.Span[..length];
            if (!whole && origin.Read(data, offset) < length)
            {
                throw new SyncException("origin-short", $"{origin.Path} ended at {offset} while reading {length} bytes: it is smaller than when the snapshot was taken.");
            }

            writer.Write(offset, data);
            progress?.Invoke(writer.DataBytes, total);
        }
    }
}

/// <summary>
/// Applies a stream to a device or file. With a snapback, what each record overwrites is saved
/// first, in the stream's format, and made durable before the overwrite (in batches of 8 MiB):
/// a stop at any point, or a crash, leaves a snapback that undoes exactly what was written.
/// A vgmesh-format snapback is applied in reverse record order, so overlapping records restore
/// too; lvmsync's are applied forward, as lvmsync does.
/// </summary>
/// <summary>Where an apply saves what it overwrites.</summary>
public static class SnapbackFile
{
    /// <summary>A new snapback file; never over an earlier one, which may be the only way back.</summary>
    /// <exception cref="SyncException">The file exists, or cannot be made there.</exception>
    public static FileStream Create(string path)
    {
        try
        {
            return new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SyncException("snapback-exists", $"{path}: cannot create the snapback ({e.Message}); it must be a new file in a writable directory.");
        }
    }
}

public sealed class DeltaApplier : IDisposable
{
    private const int BatchBytes = 8 << 20;

    private readonly BlockFile _dest;
    private readonly Stream? _snapbackStream;
    private DeltaWriter? _snapback;
    private readonly List<(long Offset, byte[] Data)> _pending = [];
    private int _pendingBytes;
    private readonly byte[] _old = new byte[DeltaLayout.MaxRecordBytes];

    public DeltaApplier(BlockFile dest, Stream? snapback)
    {
        ArgumentNullException.ThrowIfNull(dest);
        _dest = dest;
        _snapbackStream = snapback;
    }

    public long BytesWritten { get; private set; }

    public TransferSummary Apply(DeltaReader reader, TimeProvider time, Progress? progress = null)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(time);
        var started = time.GetTimestamp();
        var header = reader.Header;
        if (header.Format == DeltaFormat.VgMesh && _dest.Length < header.SourceBytes)
        {
            throw new SyncException("destination-too-small", $"{_dest.Path} has {_dest.Length} bytes, the stream's source {header.SourceBytes}: extend it (vgmesh lv extend) and apply again. Nothing was written.");
        }

        if (header.Kind == DeltaKind.Snapback)
        {
            throw new SyncException("snapback-needs-file", "a vgmesh snapback is applied in reverse order, from its file: use --apply FILE, not a pipe.");
        }

        _snapback = _snapbackStream is null ? null
            : new DeltaWriter(_snapbackStream, header with { Kind = header.Format == DeltaFormat.VgMesh ? DeltaKind.Snapback : DeltaKind.Delta });
        try
        {
            while (reader.Next(out var offset, out var data))
            {
                Put(offset, data.Span);
                progress?.Invoke(reader.DataBytes, header.SourceBytes);
            }

            Drain();
            _snapback?.Finish();
            _dest.Flush();
        }
        catch (SyncException e)
        {
            // What was read before the fault is written (its snapback first), so the snapback undoes exactly the count reported.
            Drain();
            _snapback?.Finish();
            _dest.Flush();
            throw e.WithBytesWritten(BytesWritten);
        }

        return new TransferSummary(reader.Records, reader.DataBytes, 0, BytesWritten, time.GetElapsedTime(started));
    }

    /// <summary>Applies a vgmesh snapback file in reverse record order, after checking all of it (a damaged snapback changes nothing).</summary>
    public TransferSummary ApplySnapback(Stream file, TimeProvider time, Progress? progress = null)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(time);
        var started = time.GetTimestamp();
        if (!file.CanSeek)
        {
            throw new SyncException("snapback-needs-file", "a vgmesh snapback is applied in reverse order, from its file: use --apply FILE, not a pipe.");
        }

        // First pass: verify every record and the trailer, and note where each record's data is.
        var records = new List<(long At, long Offset, int Length)>();
        DeltaHeader header;
        using (var reader = DeltaReader.Open(file, "the snapback"))
        {
            header = reader.Header;
            var at = (long)DeltaLayout.HeaderBytes;
            while (reader.Next(out var offset, out var data))
            {
                records.Add((at + 12, offset, data.Length));
                at += 12 + data.Length + 4;
            }
        }

        if (_dest.Length < header.SourceBytes)
        {
            throw new SyncException("destination-too-small", $"{_dest.Path} has {_dest.Length} bytes, the snapback's source {header.SourceBytes}. Nothing was written.");
        }

        _snapback = _snapbackStream is null ? null : new DeltaWriter(_snapbackStream, header with { Kind = DeltaKind.Snapback });
        var buffer = new byte[DeltaLayout.MaxRecordBytes];
        long done = 0;
        for (var i = records.Count - 1; i >= 0; i--)
        {
            var (at, offset, length) = records[i];
            file.Seek(at, SeekOrigin.Begin);
            file.ReadExactly(buffer, 0, length);
            Put(offset, buffer.AsSpan(0, length));
            done += length;
            progress?.Invoke(done, header.SourceBytes);
        }

        Drain();
        _snapback?.Finish();
        _dest.Flush();
        return new TransferSummary(records.Count, done, 0, BytesWritten, time.GetElapsedTime(started));
    }

    private void Put(long offset, ReadOnlySpan<byte> data)
    {
        if (offset + data.Length > _dest.Length)
        {
            throw new SyncException("destination-too-small", $"a record at {offset} ({data.Length} bytes) reaches past the end of {_dest.Path} ({_dest.Length} bytes).", BytesWritten);
        }

        if (_snapback is null)
        {
            _dest.Write(data, offset);
            BytesWritten += data.Length;
            return;
        }

        var old = _old.AsSpan(0, data.Length);
        if (_dest.Read(old, offset) < data.Length)
        {
            throw new SyncException("destination-too-small", $"{_dest.Path} ended while reading what a record at {offset} overwrites.", BytesWritten);
        }

        _snapback.Write(offset, old);
        _pending.Add((offset, data.ToArray()));
        _pendingBytes += data.Length;
        if (_pendingBytes >= BatchBytes)
        {
            Drain();
        }
    }

    /// <summary>The snapback of the batch on disk first, then the batch's writes.</summary>
    private void Drain()
    {
        if (_pending.Count == 0)
        {
            return;
        }

        _snapbackStream!.Flush();
        if (_snapbackStream is FileStream fs)
        {
            fs.Flush(flushToDisk: true);
        }

        foreach (var (offset, data) in _pending)
        {
            _dest.Write(data, offset);
            BytesWritten += data.Length;
        }

        _pending.Clear();
        _pendingBytes = 0;
    }

    public void Dispose() => _snapback?.Dispose();
}
