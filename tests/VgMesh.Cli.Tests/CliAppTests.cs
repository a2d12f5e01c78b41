using System.Diagnostics;

namespace VgMesh.Cli.Tests;

public class CliAppTests
{
    private const string NoAgent = "/nonexistent/vgmeshd.sock";

    private static async Task<(int Code, string Out, string Err)> RunAsync(params string[] args)
    {
        using var o = new StringWriter();
        using var e = new StringWriter();
        var code = await CliApp.RunAsync(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    [Fact]
    public async Task NoCommand_UsageAndExit2()
    {
        var (code, output, err) = await RunAsync();
        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains("lv", output + err, StringComparison.Ordinal);
        Assert.Contains("cluster", output + err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EveryVerb_HasItsOwnHelp()
    {
        foreach (var verb in new[] { "lv list", "lv show", "lv create", "lv remove", "lv extend", "lv reduce", "lv rename", "lv snapshot", "lv merge", "lv activate", "lv deactivate", "lv unfence", "lv backup", "lv restore", "sync", "host list", "host show", "cluster status", "events", "completion" })
        {
            var (code, output, _) = await RunAsync([.. verb.Split(' '), "--help"]);
            Assert.Equal(ExitCodes.Ok, code);
            Assert.Contains("Usage:", output, StringComparison.Ordinal);
            Assert.Contains(verb, output, StringComparison.Ordinal);
        }

        var (_, create, _) = await RunAsync("lv", "create", "--help");
        Assert.Contains("--size <SIZE>", create, StringComparison.Ordinal);
        Assert.Contains("--tag <TAG>", create, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MistypedVerb_Exit2WithASuggestion()
    {
        var (code, output, err) = await RunAsync("lv", "crate", "vm1", "--size", "1G");
        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains("'crate' was not matched. Did you mean", output + err, StringComparison.Ordinal);
        Assert.Contains("create", output + err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AgentNotRunning_Exit3NamesTheSocket()
    {
        var (code, _, err) = await RunAsync("--socket", NoAgent, "lv", "list");
        Assert.Equal(ExitCodes.Unreachable, code);
        Assert.Contains(NoAgent, err, StringComparison.Ordinal);
        Assert.Contains("systemctl status vgmeshd", err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MissingSizeOrName_Exit2()
    {
        var (code, output, err) = await RunAsync("--socket", NoAgent, "lv", "create", "vm1");
        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains("--size", output + err, StringComparison.Ordinal);
        (code, output, err) = await RunAsync("--socket", NoAgent, "lv", "remove");
        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains("NAME", output + err, StringComparison.Ordinal);
        (code, _, err) = await RunAsync("--endpoint", "http://127.0.0.1:1", "lv", "list");
        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains("--token-file", err, StringComparison.Ordinal);
    }

    /// <summary>'@all' is a name for the agent to refuse, not a response file to read; '-n' too is passed on.</summary>
    [Theory]
    [InlineData("@all")]
    [InlineData("-n")]
    public async Task OddNames_ReachTheAgent(string name)
    {
        var (code, _, err) = await RunAsync("--socket", NoAgent, "lv", "create", name, "--size", "1G");
        Assert.Equal(ExitCodes.Unreachable, code);
        Assert.Contains(NoAgent, err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ExclusiveAndShared_Exit2()
    {
        var (code, output, err) = await RunAsync("--socket", NoAgent, "lv", "activate", "vm1", "--exclusive", "--shared");
        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains("choose one of --exclusive and --shared", output + err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GlobalOptions_AnywhereOnTheLine()
    {
        var (code, _, err) = await RunAsync("lv", "list", "--json", "--socket", NoAgent);
        Assert.Equal(ExitCodes.Unreachable, code);
        Assert.Contains(NoAgent, err, StringComparison.Ordinal);
    }

    /// <summary>The directive the bash function asks: verbs and options from the tree (names from an agent are tested in the lab).</summary>
    [Theory]
    [InlineData("lv cre", "create")]
    [InlineData("lv ", "snapshot")]
    [InlineData("h", "host")]
    [InlineData("lv activate vm1 --ex", "--exclusive")]
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
        var (code, output, err) = await RunAsync("[suggest:25]", $"--socket {NoAgent} lv show ");
        Assert.Equal(ExitCodes.Ok, code);
        Assert.Equal("", err);
        Assert.DoesNotContain("create", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CompletionBash_PrintsTheScriptForVgmesh()
    {
        var (code, script, _) = await RunAsync("completion", "bash");
        Assert.Equal(ExitCodes.Ok, code);
        Assert.Contains("complete -o default -F _vgmesh vgmesh", script, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.Usage, (await RunAsync("completion", "fish")).Code);
    }

    /// <summary>vgmesh(8) from the same tree: every verb, every exit code, and groff finds nothing to warn about.</summary>
    [Fact]
    public async Task ManPage_HasEveryVerb_AndGroffAcceptsIt()
    {
        var (code, page, _) = await RunAsync("manpage");
        Assert.Equal(ExitCodes.Ok, code);
        foreach (var verb in new[] { "lv create NAME \\-\\-size SIZE [\\-\\-tag TAG]", "lv activate NAME [\\-\\-exclusive] [\\-\\-shared] [\\-\\-host HOST] [\\-\\-wait]", "host show HOST", "cluster status", "events [\\-\\-after REVISION] [\\-\\-follow]", "completion SHELL" })
        {
            Assert.Contains(".SS \"vgmesh " + verb + "\"", page, StringComparison.Ordinal);
        }

        Assert.DoesNotContain("manpage", page, StringComparison.Ordinal);
        var psi = new ProcessStartInfo("groff", ["-man", "-Tutf8", "-ww", "-z"]) { RedirectStandardInput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        await p.StandardInput.WriteAsync(page);
        p.StandardInput.Close();
        var err = await p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        Assert.True(p.ExitCode == 0 && err.Length == 0, err);
    }
}
