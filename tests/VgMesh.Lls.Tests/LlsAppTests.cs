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

    /// <summary>What bash's function asks: verbs and options from the tree; with no agent, no names and no error.</summary>
    [Theory]
    [InlineData("sn", "snapshot")]
    [InlineData("set data --re", "--read-only")]
    [InlineData("completion ", "bash")]
    public async Task Suggest_CompletesFromTheTree(string line, string expected)
    {
        var (code, output, _) = await RunAsync($"[suggest:{line.Length}]", line);
        Assert.Equal(ExitCodes.Ok, code);
        Assert.Contains(expected, output.Split('\n', StringSplitOptions.TrimEntries));
    }

    [Fact]
    public async Task Suggest_NoAgent_NoNamesAndNoError()
    {
        var line = "--socket /nonexistent/lls.sock delete ";
        var (code, output, err) = await RunAsync($"[suggest:{line.Length}]", line);
        Assert.Equal(ExitCodes.Ok, code);
        Assert.Equal("", err);
        Assert.All(output.Split('\n', StringSplitOptions.RemoveEmptyEntries), o => Assert.True(o[0] is '-' or '/', $"'{o}' is not an option"));
    }

    [Fact]
    public async Task CompletionBash_PrintsTheScriptForLls()
    {
        var (code, script, _) = await RunAsync("completion", "bash");
        Assert.Equal(ExitCodes.Ok, code);
        Assert.Contains("complete -o default -F _lls lls", script, StringComparison.Ordinal);
    }

    /// <summary>lls(1) from the same tree: every verb with its synopsis, the exit codes, and not the hidden verb.</summary>
    [Fact]
    public async Task ManPage_HasEveryVerb()
    {
        var (code, page, _) = await RunAsync("manpage");
        Assert.Equal(ExitCodes.Ok, code);
        Assert.StartsWith(".TH LLS 1 ", page, StringComparison.Ordinal);
        foreach (var verb in new[] { "create NAME \\-\\-size SIZE", "snapshot ORIGIN \\-\\-name NAME [\\-\\-size SIZE]", "delete NAME", "resize NAME \\-\\-size SIZE", "list", "set NAME [\\-\\-hidden]", "mount\\-on\\-boot [\\-\\-fstab FSTAB]", "completion SHELL" })
        {
            Assert.Contains(".SS \"lls " + verb, page, StringComparison.Ordinal);
        }

        Assert.Contains(".SH EXIT STATUS\n.TP\n.B 0\n", page, StringComparison.Ordinal);
        Assert.DoesNotContain("manpage", page, StringComparison.Ordinal);
    }
}
