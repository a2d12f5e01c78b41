using System.Buffers.Binary;
using System.Text;
using VgMesh.Lvm.DeviceMapper;

namespace VgMesh.Lvm.Tests.DeviceMapper;

public class DmStatusIoctlTests
{
    [Fact]
    public void WriteRequest_AsksForTheNamedDevicesStatus()
    {
        var buffer = new byte[1024];
        buffer.AsSpan().Fill(0xff);
        DmStatusIoctl.WriteRequest(buffer, "san-lls.node1.c1.s");

        Assert.Equal(4u, BinaryPrimitives.ReadUInt32LittleEndian(buffer));
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(4)));
        Assert.Equal(1024u, BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(12)));
        Assert.Equal((uint)DmStatusIoctl.HeaderSize, BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(16)));
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(28))); // flags: the status, not the table
        Assert.Equal("san-lls.node1.c1.s\0", Encoding.ASCII.GetString(buffer, 48, 19));
        Assert.All(buffer.Skip(67), b => Assert.Equal(0, b));
    }

    [Fact]
    public void WriteRequest_ForTheTable_SetsDmStatusTableFlag()
    {
        var buffer = new byte[1024];
        DmStatusIoctl.WriteRequest(buffer, "san-data", DmStatusIoctl.TableFlag);
        Assert.Equal(16u, BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(28)));
    }

    [Fact]
    public void WriteRequest_ANameLongerThanTheKernelsField_IsRefused()
    {
        var buffer = new byte[1024];
        DmStatusIoctl.WriteRequest(buffer, new string('a', 127));
        Assert.Equal(0, buffer[48 + 127]);
        Assert.Throws<ArgumentException>(() => DmStatusIoctl.WriteRequest(buffer, new string('a', 128)));
    }

    [Fact]
    public void ParseReply_ReadsEachTargetAndItsStatus_AsTheKernelLaysThemOut()
    {
        var reply = Reply(("snapshot", 0, 131072, "2048/16384 16"), ("linear", 131072, 8, ""));

        var lines = DmStatusIoctl.ParseReply("san-s", reply);

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
        var lines = DmStatusIoctl.ParseReply("san-s", Reply(("snapshot", 0, 8, text)));
        Assert.Equal(health, Assert.IsType<SnapshotStatus>(Assert.Single(lines).Status).Health);
    }

    [Fact]
    public void ParseReply_NoTable_NoLines()
    {
        Assert.Empty(DmStatusIoctl.ParseReply("san-s", Reply()));
    }

    [Fact]
    public void ParseReply_BufferFull_RefusesATruncatedStatus()
    {
        var reply = Reply(("snapshot", 0, 8, "1/8 1"));
        BinaryPrimitives.WriteUInt32LittleEndian(reply.AsSpan(28), 1 << 8);
        var e = Assert.Throws<DmIoctlException>(() => DmStatusIoctl.ParseReply("san-s", reply));
        Assert.Contains("san-s", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ParseReply_NextPastTheBuffer_IsMalformedNotACrash()
    {
        var reply = Reply(("snapshot", 0, 8, "1/8 1"), ("linear", 8, 8, ""));
        BinaryPrimitives.WriteUInt32LittleEndian(reply.AsSpan(DmStatusIoctl.HeaderSize + 20), 1 << 20);
        Assert.Throws<DmIoctlException>(() => DmStatusIoctl.ParseReply("san-s", reply));
    }

    /// <summary>A reply as dm-ioctl.c's retrieve_status writes it: specs 8-byte aligned, next counted from data_start.</summary>
    private static byte[] Reply(params (string Type, long Start, long Length, string Status)[] targets)
    {
        var buffer = new byte[4096];
        BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(16), DmStatusIoctl.HeaderSize);
        BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(20), (uint)targets.Length);
        var at = 0;
        foreach (var (type, start, length, status) in targets)
        {
            var spec = buffer.AsSpan(DmStatusIoctl.HeaderSize + at);
            BinaryPrimitives.WriteUInt64LittleEndian(spec, (ulong)start);
            BinaryPrimitives.WriteUInt64LittleEndian(spec[8..], (ulong)length);
            Encoding.ASCII.GetBytes(type, spec.Slice(24, 15));
            Encoding.ASCII.GetBytes(status, spec[DmStatusIoctl.SpecSize..]);
            at += DmStatusIoctl.SpecSize + status.Length + 1;
            at = (at + 7) & ~7;
            BinaryPrimitives.WriteUInt32LittleEndian(spec[20..], (uint)at);
        }

        return buffer;
    }
}
