namespace VgMesh.Agent.Tests.InLab;

/// <summary>
/// The published (native) CLI against real agents: completion with LV and host names from the
/// agent, through the bash function it prints, and the exit codes of a refusal and a usage error.
/// </summary>
[Collection("agent-lab")]
public class CliLabTests(AgentLabFixture f)
{
    /// <summary>What bash offers for a command line ending at the cursor, through <c>vgmesh completion bash</c>.</summary>
    private async Task<string[]> BashCompleteAsync(string host, string line)
    {
        // COMP_WORDS as bash splits the line, with an empty word when the line ends in a space.
        // (eval, not source <(...): a lab host has no /dev/fd.)
        // 15 s for the agent's names, not 2: this machine's two cores run two labs at once.
        var script = $$"""
            export VGMESH_COMPLETION_TIMEOUT=15
            eval "$(vgmesh completion bash)"
            COMP_LINE='{{line}}'; COMP_POINT=${#COMP_LINE}
            read -ra COMP_WORDS <<< "$COMP_LINE"
            [[ $COMP_LINE == *' ' ]] && COMP_WORDS+=('')
            COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
            _vgmesh
            printf '%s\n' "${COMPREPLY[@]}"
            """;
        var output = await f.Lab.ExecOkAsync(host, ["bash", "-c", script]);
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }

    [Fact]
    public async Task Completion_OffersVerbsAndTheAgentsLvAndHostNames()
    {
        await f.OkAsync("node1", "lv", "create", "cpl1", "--size", "8M");
        await f.OkAsync("node1", "lv", "create", "cpl2", "--size", "8M");

        Assert.Equal(["create"], await BashCompleteAsync("node2", "vgmesh lv cre"));
        var names = await BashCompleteAsync("node2", "vgmesh lv show cpl");
        Assert.Equal(["cpl1", "cpl2"], names.Order());
        Assert.Equal(["node3"], await BashCompleteAsync("node2", "vgmesh lv activate cpl1 --host node3"));
        Assert.Contains("node1", await BashCompleteAsync("node3", "vgmesh host show "));

        // Usage errors and refusals keep their exit codes through the native binary.
        var typo = await f.Lab.ExecAsync("node1", ["vgmesh", "lv", "shwo", "cpl1"]);
        Assert.Equal(2, typo.ExitCode);
        Assert.Contains("Did you mean", typo.Stdout + typo.Stderr, StringComparison.Ordinal);
        var missing = await f.CliAsync("node1", "lv", "remove", "nosuchlv");
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("not-found", missing.Stderr, StringComparison.Ordinal);

        await f.OkAsync("node1", "lv", "remove", "cpl1");
        await f.OkAsync("node1", "lv", "remove", "cpl2");
    }
}
