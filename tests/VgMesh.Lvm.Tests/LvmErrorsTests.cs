namespace VgMesh.Lvm.Tests;

/// <summary>Error mapping on the real stderr texts recorded in the lab.</summary>
public class LvmErrorsTests
{
    [Theory]
    [InlineData("lv-already-exists", "fx/data", typeof(LvmAlreadyExistsException))]
    [InlineData("lv-not-found", "fx/nope", typeof(LvmNotFoundException))]
    [InlineData("vg-not-found", "nope", typeof(LvmNotFoundException))]
    [InlineData("origin-not-found", "fx/s9", typeof(LvmNotFoundException))]
    [InlineData("dm-remove-missing", "nope", typeof(LvmNotFoundException))]
    [InlineData("dm-info-missing", "nope", typeof(LvmNotFoundException))]
    [InlineData("lv-in-use", "fx/data", typeof(LvmInUseException))]
    [InlineData("dm-busy", "fx-data", typeof(LvmInUseException))]
    [InlineData("merge-invalid", "fx/small-full", typeof(LvmSnapshotInvalidException))]
    [InlineData("lock-busy", "fx/locked", typeof(LvmMetadataLockedException))]
    [InlineData("lv-locked-elsewhere", "san/a", typeof(LvmLockedByOtherHostException))]
    [InlineData("lock-start-sanlock", "san", typeof(LvmCommandException))]
    [InlineData("reduce-not-smaller", "fx/small", typeof(LvmSizeRefusedException))]
    [InlineData("extend-not-larger", "fx/plain", typeof(LvmSizeRefusedException))]
    [InlineData("extend-unchanged", "fx/plain", typeof(LvmSizeRefusedException))]
    [InlineData("origin-resize-active", "fx/data", typeof(LvmCommandException))]
    public void Classify_RecordedStderr_TypedError(string fixture, string objectName, Type expected)
    {
        var e = LvmErrors.Classify(Fixture.Failure(fixture), objectName);
        Assert.IsType(expected, e);
        Assert.NotNull(e.Result);
        Assert.Contains(e is LvmCommandException ? "failed with exit code" : objectName, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("extend-unchanged", true)]
    [InlineData("extend-not-larger", false)]
    [InlineData("reduce-not-smaller", false)]
    public void Classify_SizeRefused_TellsUnchangedFromWrongDirection(string fixture, bool unchanged) =>
        Assert.Equal(unchanged, Assert.IsType<LvmSizeRefusedException>(LvmErrors.Classify(Fixture.Failure(fixture), "fx/plain")).Unchanged);

    [Fact]
    public void Classify_VgInsufficient_CarriesExtents()
    {
        var e = Assert.IsType<LvmInsufficientSpaceException>(LvmErrors.Classify(Fixture.Failure("vg-insufficient"), "fx/big"));
        Assert.Equal("fx", e.ObjectName);
        Assert.Equal(25600, e.NeededExtents);
        Assert.True(e.FreeExtents is > 0 and < 25600);
    }

    [Fact]
    public void Classify_ExtendInsufficient_CarriesExtentsAndVg()
    {
        var e = Assert.IsType<LvmInsufficientSpaceException>(LvmErrors.Classify(Fixture.Failure("extend-insufficient"), "fx/plain"));
        Assert.Equal("fx", e.ObjectName);
        Assert.Equal(25600, e.NeededExtents);
    }

    [Fact]
    public void LvmCommandException_KeepsExitCodeAndStderr()
    {
        var e = Assert.IsType<LvmCommandException>(LvmErrors.Classify(Fixture.Failure("origin-resize-active"), "fx/data"));
        Assert.Equal(5, e.Result!.ExitCode);
        Assert.Contains("Snapshot origin volumes can be resized only while inactive", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ThrowIfFailed_Success_ReturnsResult()
    {
        var ok = new VgMesh.Lvm.Commands.ProcessResult(["lvm"], 0, "x", "", TimeSpan.Zero);
        Assert.Same(ok, LvmErrors.ThrowIfFailed(ok, "vg"));
    }

    [Fact]
    public void CommittedSeqno_LastBackupLineOfAVerboseWrite()
    {
        const string stderr = """
              Creating logical volume vv1
              Archiving volume group "san" metadata (seqno 15).
              Logical volume "vv1" created.
              Creating volume group backup "/etc/lvm/backup/san" (seqno 16).

            """;
        Assert.Equal(16, LvmDriver.CommittedSeqno(stderr));
        Assert.Null(LvmDriver.CommittedSeqno("  Logical volume \"vv1\" created.\n")); // backups off: the caller reads vgs
    }
}
