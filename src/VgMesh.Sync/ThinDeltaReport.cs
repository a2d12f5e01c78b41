using System.Globalization;
using System.Xml;

namespace VgMesh.Sync;

/// <summary>
/// What <c>thin_delta</c> (thin-provisioning-tools) says changed between two thin devices of one
/// pool, read as the chunks to send: every range that is <c>different</c> (both map it, to other
/// data blocks), <c>right_only</c> (the origin wrote a block the snapshot never had) or
/// <c>left_only</c> (the origin discarded a block the snapshot has: the origin now reads zeros
/// there, and so must the destination). <c>same</c> ranges are shared and skipped. Begins and
/// lengths are in the pool's data blocks (<c>data_block_size</c> sectors each). The XML is read
/// as a stream, so memory is the bitmap's whatever the number of ranges.
/// </summary>
public static class ThinDeltaReport
{
    /// <param name="xml">thin_delta's standard output, without <c>--verbose</c>.</param>
    /// <param name="snapshotId">The thin id given as <c>--snap1</c> (the snapshot: what the destination has).</param>
    /// <param name="originId">The thin id given as <c>--snap2</c> (the origin: what it must get).</param>
    /// <param name="originBytes">The origin's size; a range past it means the report is not this origin's.</param>
    public static ChangedChunks Read(TextReader xml, long snapshotId, long originId, long originBytes)
    {
        ArgumentNullException.ThrowIfNull(xml);
        using var reader = XmlReader.Create(xml, new XmlReaderSettings { DtdProcessing = DtdProcessing.Prohibit, XmlResolver = null, IgnoreWhitespace = true });
        ChangedChunks? changed = null;
        var sawDiff = false;
        try
        {
            while (reader.Read())
            {
                if (reader.NodeType != XmlNodeType.Element)
                {
                    continue;
                }

                switch (reader.Name)
                {
                    case "superblock":
                        var sectors = Number(reader, "data_block_size");
                        if (sectors is < 128 or > 2 * 1024 * 1024 || sectors % 128 != 0)
                        {
                            throw Corrupt($"a data block of {sectors} sectors is not one a thin pool has (64 KiB-1 GiB)");
                        }

                        changed = new ChangedChunks(checked((int)sectors * 512), originBytes);
                        break;
                    case "diff":
                        if (Number(reader, "left") != snapshotId || Number(reader, "right") != originId)
                        {
                            throw Corrupt($"it compares thin devices {reader.GetAttribute("left")} and {reader.GetAttribute("right")}, not {snapshotId} and {originId}");
                        }

                        sawDiff = true;
                        break;
                    case "different" or "left_only" or "right_only" or "same":
                        if (changed is null || !sawDiff)
                        {
                            throw Corrupt($"a <{reader.Name}> range comes before the superblock and the diff it belongs to");
                        }

                        var begin = Number(reader, "begin");
                        var length = Number(reader, "length");
                        var chunks = (originBytes + changed.ChunkBytes - 1) / changed.ChunkBytes;
                        if (length <= 0 || begin < 0 || begin + length > chunks)
                        {
                            throw Corrupt($"the range {begin}+{length} is outside the origin's {chunks} blocks");
                        }

                        if (reader.Name != "same")
                        {
                            for (var c = begin; c < begin + length; c++)
                            {
                                changed.Set(c);
                            }
                        }

                        break;
                    default:
                        throw Corrupt($"it has an element <{reader.Name}> thin_delta does not write");
                }
            }
        }
        catch (XmlException e)
        {
            throw Corrupt($"it is not well-formed XML ({e.Message})");
        }

        return sawDiff ? changed! : throw Corrupt("it has no <diff>: thin_delta stopped before it compared the devices");
    }

    private static long Number(XmlReader reader, string attribute) =>
        long.TryParse(reader.GetAttribute(attribute), NumberStyles.None, CultureInfo.InvariantCulture, out var n)
            ? n
            : throw Corrupt($"<{reader.Name}> has no number in {attribute}");

    private static SyncException Corrupt(string why) =>
        new("thin-delta-unreadable", $"thin_delta's report cannot be used: {why}. Nothing was sent; run thin_check on the pool's metadata if this repeats.");
}
