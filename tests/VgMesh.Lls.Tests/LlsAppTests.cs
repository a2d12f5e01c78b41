namespace VgMesh.Lls.Tests;

public class LlsAppTests
{
    private static async Task<(int Code, string Out, string Err)> RunAsync(params string[] args)
    {
        using var o = new StringWriter();
        using var e = new StringWriter();
        var code = await LlsApp.RunAsync(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    [Fact]
    public async Task NoArguments_PrintsUsage_ExitsTwo()
    {
        var (code, _, err) = await RunAsync();
        Assert.Equal(ExitCodes.Usage, code);
        foreach (var verb in new[] { "create", "snapshot", "delete", "resize", "list" })
        {
            Assert.Contains(verb, err, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task MissingSize_IsAUsageError()
    {
        var (code, _, err) = await RunAsync("create", "data");
        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains("--size", err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NoSocket_ExitsThree_SayingWhereItLooked()
    {
        var socket = Path.Combine(Path.GetTempPath(), $"no-lls-{Guid.NewGuid():N}.sock");
        var (code, _, err) = await RunAsync("list", "--socket", socket);
        Assert.Equal(ExitCodes.Unreachable, code);
        Assert.Contains($"cannot reach the host's agent at {socket}: no socket there", err, StringComparison.Ordinal);
    }
}
