using System.CommandLine;
using System.CommandLine.Completions;
using VgMesh.Client;
using VgMesh.CommandLine;

namespace VgMesh.Cli;

/// <summary>
/// Shell completion: <c>vgmesh completion bash</c> (<see cref="BashCompletion"/>) asks
/// <c>vgmesh</c> itself what may come next: verbs and options from the command tree, LV and host
/// names from the agent the command line points at.
/// </summary>
internal static class Completion
{
    /// <summary>Completion runs on every Tab: a slow or absent agent must not hang the shell.</summary>
    private static TimeSpan AgentTimeout => BashCompletion.AgentTimeout("VGMESH_COMPLETION_TIMEOUT");

    public static Command Command() => BashCompletion.Command("vgmesh", "verbs, options, and LV and host names from the agent", ExitCodes.Ok);

    public static IEnumerable<string> LvNames(CompletionContext context) => Ask(context, async (c, ct) => (await c.ListLvsAsync(ct).ConfigureAwait(false)).Select(l => l.Name));

    public static IEnumerable<string> HostNames(CompletionContext context) => Ask(context, async (c, ct) => (await c.ListHostsAsync(ct).ConfigureAwait(false)).Select(h => h.Host));

    private static IEnumerable<string> Ask(CompletionContext context, Func<VgMeshClient, CancellationToken, Task<IEnumerable<string>>> names) =>
        BashCompletion.Ask(AgentTimeout, async ct =>
        {
            using var client = CliCommands.Target(context.ParseResult).Connect(AgentTimeout);
            return await names(client, ct).ConfigureAwait(false);
        });
}
