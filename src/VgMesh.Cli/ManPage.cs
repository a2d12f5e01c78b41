using System.CommandLine;
using VgMesh.CommandLine;

namespace VgMesh.Cli;

/// <summary>vgmesh(8), rendered from the command tree (hidden verb <c>vgmesh manpage</c>, run by <c>ops/package</c>).</summary>
internal static class ManPage
{
    public static readonly ManualPage Page = new(
        "vgmesh",
        8,
        "operate a shared LVM volume group across a cluster of hosts",
        "[\\fIGLOBAL OPTIONS\\fR] \\fINOUN VERB\\fR [\\fIARGS\\fR]",
        ["Every host of the cluster runs the agent, vgmeshd; vgmesh talks to the local one over its socket, or to any one over TCP."],
        [
            new($"{ExitCodes.Ok}", "done, and applied by every host"),
            new($"{ExitCodes.Failed}", "refused or failed; the message says why and what to do next"),
            new($"{ExitCodes.Usage}", "usage error"),
            new($"{ExitCodes.Unreachable}", "the agent cannot be reached"),
            new($"{ExitCodes.Lagging}", "done, but some hosts had not applied it when the wait ended"),
        ],
        [new("VGMESH_SOCKET", "as --socket"), new("VGMESH_ENDPOINT", "as --endpoint"), new("VGMESH_TOKEN_FILE", "as --token-file")],
        [new("/run/vgmesh/vgmeshd.sock", "the local agent's socket"), new("/etc/vgmesh/vgmeshd.json", "the agent's configuration")],
        ["vgmeshd(8)", "lls(1)", "lvm(8)", "lvchange(8)", "dmsetup(8)"]);

    public static Command Command() => Page.Command(CliCommands.Build, ExitCodes.Ok);
}
