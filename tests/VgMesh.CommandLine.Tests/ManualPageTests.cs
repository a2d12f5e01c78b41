using System.CommandLine;
using System.Diagnostics;

namespace VgMesh.CommandLine.Tests;

public class ManualPageTests
{
    private static readonly ManualPage Page = new(
        "tool",
        1,
        "a sample program",
        "[\\fIOPTIONS\\fR] \\fICOMMAND\\fR",
        ["A paragraph with --dashes, \"quotes\" and a back\\slash.", ".starts with a dot"],
        [new("0", "done"), new("2", "usage")],
        [new("TOOL_SOCKET", "as --socket")],
        [new("/run/tool.sock", "the socket")],
        ["vgmesh(8)", "lvm(8)"]);

    private static RootCommand Tree()
    {
        var root = new RootCommand("Sample tree.\n.A second line that starts with a dot.") { new Option<string>("--socket") { Description = "where", Recursive = true } };
        var vol = new Command("vol", "volumes");
        var name = new Argument<string>("NAME") { Description = "the volume" };
        vol.Subcommands.Add(new Command("create", "create one") { name, new Option<string>("--size") { Description = "how big", Required = true }, new Option<bool>("--wait") { Description = "wait" } });
        vol.Subcommands.Add(new Command("secret", "not shown") { Hidden = true });
        root.Subcommands.Add(vol);
        return root;
    }

    [Fact]
    public void Render_HasEveryLeafWithItsSynopsis_AndEscapesText()
    {
        var page = Page.Render(Tree());
        Assert.StartsWith(".TH TOOL 1 ", page, StringComparison.Ordinal);
        Assert.Contains(".SS \"tool vol create NAME \\-\\-size VALUE [\\-\\-wait]\"", page, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", page, StringComparison.Ordinal);
        Assert.Contains("\\-\\-dashes, \\(dqquotes\\(dq and a back\\eslash.", page, StringComparison.Ordinal);
        Assert.Contains("\n\\&.starts with a dot\n", page, StringComparison.Ordinal);
        Assert.Contains("\n\\&.A second line that starts with a dot.\n", page, StringComparison.Ordinal);
        Assert.Contains(".BR vgmesh (8),\n.BR lvm (8)\n", page, StringComparison.Ordinal);
    }

    /// <summary>groff finds nothing to warn about (lintian runs the same check on the package's pages).</summary>
    [Fact]
    public async Task Render_GroffAcceptsIt()
    {
        var (code, err) = await RunAsync("groff", ["-man", "-Tutf8", "-ww", "-z"], Page.Render(Tree()));
        Assert.True(code == 0 && err.Length == 0, err);
    }

    [Fact]
    public async Task CompletionScript_BashAcceptsIt_AndOddNamesAreRefused()
    {
        var script = BashCompletion.Script("my-tool");
        Assert.Contains("complete -o default -F _my_tool my-tool", script, StringComparison.Ordinal);
        var (code, err) = await RunAsync("bash", ["-n"], script);
        Assert.True(code == 0, err);
        Assert.Throws<ArgumentException>(() => BashCompletion.Script("tool;rm"));
    }

    [Fact]
    public void Ask_OffersNothing_WhenTheAgentFailsOrIsSlow()
    {
        Assert.Empty(BashCompletion.Ask(TimeSpan.FromSeconds(5), _ => throw new HttpRequestException("refused")));
        Assert.Empty(BashCompletion.Ask(TimeSpan.FromMilliseconds(50), async ct =>
        {
            await Task.Delay(Timeout.Infinite, ct);
            return ["never"];
        }));
        Assert.Equal(["a", "b"], BashCompletion.Ask(TimeSpan.FromSeconds(5), _ => Task.FromResult<IEnumerable<string>>(["a", "b"])));
    }

    private static async Task<(int Code, string Err)> RunAsync(string tool, string[] args, string input)
    {
        using var p = Process.Start(new ProcessStartInfo(tool, args) { RedirectStandardInput = true, RedirectStandardError = true })!;
        await p.StandardInput.WriteAsync(input);
        p.StandardInput.Close();
        var err = await p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        return (p.ExitCode, err);
    }
}
