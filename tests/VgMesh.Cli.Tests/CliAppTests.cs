namespace VgMesh.Cli.Tests;

public class CliAppTests
{
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
        var (code, _, err) = await RunAsync();
        Assert.Equal(CliApp.Usage, code);
        Assert.Contains("lv create NAME --size SIZE", err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AgentNotRunning_Exit3NamesTheSocket()
    {
        var (code, _, err) = await RunAsync("--socket", "/nonexistent/vgmeshd.sock", "lv", "list");
        Assert.Equal(CliApp.Unreachable, code);
        Assert.Contains("/nonexistent/vgmeshd.sock", err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MissingSizeOrName_Exit2()
    {
        Assert.Equal(CliApp.Usage, (await RunAsync("--socket", "/nonexistent", "lv", "create", "vm1")).Code);
        var (code, _, err) = await RunAsync("--socket", "/nonexistent", "lv", "remove");
        Assert.Equal(CliApp.Usage, code);
        Assert.Contains("needs a volume name", err, StringComparison.Ordinal);
        Assert.Equal(CliApp.Usage, (await RunAsync("--endpoint", "http://127.0.0.1:1", "lv", "list")).Code);
    }

    [Fact]
    public void Positional_SkipsOptionValuesWherever()
    {
        var a = new ArgReader(["lv", "create", "--size", "10G", "vm1", "--tag", "x"]);
        Assert.Equal(["lv", "create", "vm1"], a.Positional());
        Assert.Equal("10G", a.Required("--size"));
        Assert.Equal(["x"], a.Options("--tag"));
    }
}
