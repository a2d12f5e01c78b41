using System.Buffers.Binary;
using System.Text;
using VgMesh.Lvm.DeviceMapper;

namespace VgMesh.Lvm.Tests.DeviceMapper;

public class DmIoctlTests
{
    [Fact]
    public void WriteRequest_AsksForTheNamedDevicesStatus()
    {
        var buffer = new byte[1024];
        buffer.AsSpan().Fill(0xff);
        DmIoctl.WriteRequest(buffer, "san-lls.node1.c1.s");

        Assert.Equal(4u, BinaryPrimitives.ReadUInt32LittleEndian(buffer));
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(4)));
        Assert.Equal(1024u, BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(12)));
        Assert.Equal((uint)DmIoctl.HeaderSize, BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(16)));
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(28))); // flags: the status, not the table
        Assert.Equal("san-lls.node1.c1.s\0", Encoding.ASCII.GetString(buffer, 48, 19));
        Assert.All(buffer.Skip(67), b => Assert.Equal(0, b));
    }

    /// <summary>A load as libdevmapper lays it out: the header, then each spec with its parameters, 8-byte aligned, next counted from the spec.</summary>
    [Fact]
    public void LoadRequest_LaysOutEachTargetAfterTheHeader()
    {
        var table = new[]
        {
            new DmTableLine("san-s-cow", 0, 16384, new LinearTarget("98:0", 2048)),
            new DmTableLine("san-s-cow", 16384, 8192, new LinearTarget("98:16", 4096)),
        };
        var buffer = DmIoctl.LoadRequest("san-s-cow", table);

        Assert.Equal("san-s-cow\0", Encoding.ASCII.GetString(buffer, 48, 10));
        Assert.Equal(2u, BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(20))); // target_count
        Assert.Equal((uint)buffer.Length, BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(12))); // data_size
        var first = buffer.AsSpan(DmIoctl.HeaderSize);
        Assert.Equal(0ul, BinaryPrimitives.ReadUInt64LittleEndian(first));
        Assert.Equal(16384ul, BinaryPrimitives.ReadUInt64LittleEndian(first[8..]));
        Assert.Equal("linear\0", Encoding.ASCII.GetString(first.Slice(24, 7)));
        Assert.Equal("98:0 2048\0", Encoding.ASCII.GetString(first.Slice(DmIoctl.SpecSize, 10)));
        var next = (int)BinaryPrimitives.ReadUInt32LittleEndian(first[20..]);
        Assert.Equal(56, next); // 40 + "98:0 2048" + NUL = 50, aligned to 8
        var second = first[next..];
        Assert.Equal(16384ul, BinaryPrimitives.ReadUInt64LittleEndian(second));
        Assert.Equal(8192ul, BinaryPrimitives.ReadUInt64LittleEndian(second[8..]));
        Assert.Equal("98:16 4096\0", Encoding.ASCII.GetString(second.Slice(DmIoctl.SpecSize, 11)));
        Assert.Equal(DmIoctl.HeaderSize + 56 + 56, buffer.Length);
    }

    [Fact]
    public void LoadRequest_AnEmptyTable_IsRefused() =>
        Assert.Throws<ArgumentException>(() => DmIoctl.LoadRequest("san-s-cow", []));

    [Fact]
    public void WriteRequest_ForTheTable_SetsDmStatusTableFlag()
    {
        var buffer = new byte[1024];
        DmIoctl.WriteRequest(buffer, "san-data", DmIoctl.TableFlag);
        Assert.Equal(16u, BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(28)));
    }

    [Fact]
    public void WriteRequest_ANameLongerThanTheKernelsField_IsRefused()
    {
        var buffer = new byte[1024];
        DmIoctl.WriteRequest(buffer, new string('a', 127));
        Assert.Equal(0, buffer[48 + 127]);
        Assert.Throws<ArgumentException>(() => DmIoctl.WriteRequest(buffer, new string('a', 128)));
    }

    [Fact]
    public void ParseReply_ReadsEachTargetAndItsStatus_AsTheKernelLaysThemOut()
    {
        var reply = Reply(("snapshot", 0, 131072, "2048/16384 16"), ("linear", 131072, 8, ""));

        var lines = DmIoctl.ParseReply("san-s", reply);

        Assert.Equal(2, lines.Count);
        var s = Assert.IsType<SnapshotStatus>(lines[0].Status);
        Assert.Equal(("san-s", 0L, 131072L, "snapshot"), (lines[0].Device, lines[0].StartSector, lines[0].LengthSectors, lines[0].TargetType));
        Assert.Equal(SnapshotHealth.Valid, s.Health);
        Assert.Equal(12.5, s.UsedPercent);
        Assert.Equal(16, s.MetadataSectors);
        Assert.Equal(("linear", 131072L), (lines[1].TargetType, lines[1].StartSector));
    }

    [Theory]
    [InlineData("Invalid", SnapshotHealth.Invalid)]
    [InlineData("Overflow", SnapshotHealth.Overflow)]
    public void ParseReply_ReadsAFailedSnapshot(string text, SnapshotHealth health)
    {
        var lines = DmIoctl.ParseReply("san-s", Reply(("snapshot", 0, 8, text)));
        Assert.Equal(health, Assert.IsType<SnapshotStatus>(Assert.Single(lines).Status).Health);
    }

    [Fact]
    public void ParseReply_NoTable_NoLines()
    {
        Assert.Empty(DmIoctl.ParseReply("san-s", Reply()));
    }

    [Fact]
    public void ParseReply_BufferFull_RefusesATruncatedStatus()
    {
        var reply = Reply(("snapshot", 0, 8, "1/8 1"));
        BinaryPrimitives.WriteUInt32LittleEndian(reply.AsSpan(28), 1 << 8);
        var e = Assert.Throws<DmIoctlException>(() => DmIoctl.ParseReply("san-s", reply));
        Assert.Contains("san-s", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ParseReply_NextPastTheBuffer_IsMalformedNotACrash()
    {
        var reply = Reply(("snapshot", 0, 8, "1/8 1"), ("linear", 8, 8, ""));
        BinaryPrimitives.WriteUInt32LittleEndian(reply.AsSpan(DmIoctl.HeaderSize + 20), 1 << 20);
        Assert.Throws<DmIoctlException>(() => DmIoctl.ParseReply("san-s", reply));
    }

    /// <summary>A reply as dm-ioctl.c's retrieve_status writes it: specs 8-byte aligned, next counted from data_start.</summary>
    private static byte[] Reply(params (string Type, long Start, long Length, string Status)[] targets)
    {
        var buffer = new byte[4096];
        BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(16), DmIoctl.HeaderSize);
        BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(20), (uint)targets.Length);
        var at = 0;
        foreach (var (type, start, length, status) in targets)
        {
            var spec = buffer.AsSpan(DmIoctl.HeaderSize + at);
            BinaryPrimitives.WriteUInt64LittleEndian(spec, (ulong)start);
            BinaryPrimitives.WriteUInt64LittleEndian(spec[8..], (ulong)length);
            Encoding.ASCII.GetBytes(type, spec.Slice(24, 15));
            Encoding.ASCII.GetBytes(status, spec[DmIoctl.SpecSize..]);
            at += DmIoctl.SpecSize + status.Length + 1;
            at = (at + 7) & ~7;
            BinaryPrimitives.WriteUInt32LittleEndian(spec[20..], (uint)at);
        }

        return buffer;
    }
}
