using System.CommandLine;
using System.CommandLine.Help;
using System.Reflection;
using System.Text;

namespace VgMesh.Cli;

/// <summary>
/// vgmesh(8), rendered from the command tree itself (hidden verb <c>vgmesh manpage</c>, run by
/// <c>ops/package</c>), so the page never says something the parser does not do.
/// </summary>
internal static class ManPage
{
    public static Command Command()
    {
        var c = new Command("manpage", "Print the vgmesh(8) manual page (troff).") { Hidden = true };
        c.SetAction(async (p, ct) =>
        {
            await p.InvocationConfiguration.Output.WriteAsync(Render(CliCommands.Build()).AsMemory(), ct).ConfigureAwait(false);
            return ExitCodes.Ok;
        });
        return c;
    }

    public static string Render(RootCommand root)
    {
        ArgumentNullException.ThrowIfNull(root);
        var version = typeof(ManPage).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "";
        var t = new StringBuilder();
        t.Append(".TH VGMESH 8 \"\" \"vgmesh ").Append(Esc(version)).Append("\" \"System Administration\"\n");
        t.Append(".SH NAME\nvgmesh \\- operate a shared LVM volume group across a cluster of hosts\n");
        t.Append(".SH SYNOPSIS\n.B vgmesh\n[\\fIGLOBAL OPTIONS\\fR] \\fINOUN VERB\\fR [\\fIARGS\\fR]\n");
        t.Append(".SH DESCRIPTION\n").Append(Esc(root.Description ?? "")).Append('\n');
        t.Append(".PP\nEvery host of the cluster runs the agent, vgmeshd; vgmesh talks to the local one over its socket, or to any one over TCP.\n");
        t.Append(".SH GLOBAL OPTIONS\n");
        foreach (var o in root.Options.Where(o => o.Recursive && !o.Hidden && o is not HelpOption))
        {
            OptionItem(t, o);
        }

        t.Append(".PP\nEvery command takes \\fB\\-\\-help\\fR (\\fB\\-h\\fR) for its own usage; \\fBvgmesh \\-\\-version\\fR prints the version.\n");

        t.Append(".SH COMMANDS\n");
        foreach (var (path, command) in Leaves(root, ""))
        {
            t.Append(".SS \"").Append(Esc(Synopsis(path, command))).Append("\"\n").Append(Esc(command.Description ?? "")).Append('\n');
            foreach (var a in command.Arguments)
            {
                t.Append(".TP\n.I ").Append(Esc(a.Name)).Append('\n').Append(Esc(a.Description ?? "")).Append('\n');
            }

            foreach (var o in command.Options.Where(o => !o.Hidden && !o.Recursive && o is not HelpOption))
            {
                OptionItem(t, o);
            }
        }

        t.Append(".SH EXIT STATUS\n");
        foreach (var (code, meaning) in new[]
        {
            (ExitCodes.Ok, "done, and applied by every host"), (ExitCodes.Failed, "refused or failed; the message says why and what to do next"),
            (ExitCodes.Usage, "usage error"), (ExitCodes.Unreachable, "the agent cannot be reached"), (ExitCodes.Lagging, "done, but some hosts had not applied it when the wait ended"),
        })
        {
            t.Append(".TP\n.B ").Append(code).Append('\n').Append(Esc(meaning)).Append('\n');
        }

        t.Append(".SH ENVIRONMENT\n.TP\n.B VGMESH_SOCKET\nas \\-\\-socket\n.TP\n.B VGMESH_ENDPOINT\nas \\-\\-endpoint\n.TP\n.B VGMESH_TOKEN_FILE\nas \\-\\-token\\-file\n");
        t.Append(".SH FILES\n.TP\n.I /run/vgmesh/vgmeshd.sock\nthe local agent's socket\n.TP\n.I /etc/vgmesh/vgmeshd.json\nthe agent's configuration\n");
        t.Append(".SH SEE ALSO\n.BR lvm (8),\n.BR lvchange (8),\n.BR dmsetup (8)\n");
        return t.ToString();
    }

    private static void OptionItem(StringBuilder t, Option o)
    {
        var value = o.ValueType == typeof(bool) ? "" : " \\fI" + Esc(o.HelpName ?? "VALUE") + "\\fR";
        t.Append(".TP\n\\fB").Append(Esc(o.Name)).Append("\\fR").Append(value).Append('\n').Append(Esc(o.Description ?? "")).Append('\n');
    }

    /// <summary>The commands that run something, with their words from the root.</summary>
    private static IEnumerable<(string Path, Command Command)> Leaves(Command c, string path)
    {
        foreach (var sub in c.Subcommands.Where(s => !s.Hidden))
        {
            var p = path.Length == 0 ? sub.Name : path + " " + sub.Name;
            if (sub.Subcommands.Count == 0)
            {
                yield return (p, sub);
            }

            foreach (var leaf in Leaves(sub, p))
            {
                yield return leaf;
            }
        }
    }

    private static string Synopsis(string path, Command c)
    {
        var parts = new List<string> { "vgmesh " + path };
        parts.AddRange(c.Arguments.Select(a => a.Name));
        foreach (var o in c.Options.Where(o => !o.Hidden && !o.Recursive && o is not HelpOption))
        {
            var text = o.ValueType == typeof(bool) ? o.Name : $"{o.Name} {o.HelpName ?? "VALUE"}";
            parts.Add(o.Required ? text : $"[{text}]");
        }

        return string.Join(' ', parts);
    }

    /// <summary>Text for troff: backslashes and hyphens escaped, and no line starting with a control character.</summary>
    private static string Esc(string s)
    {
        var e = s.Replace("\\", "\\e", StringComparison.Ordinal).Replace("-", "\\-", StringComparison.Ordinal).Replace("\"", "\\(dq", StringComparison.Ordinal);
        return e.StartsWith('.') || e.StartsWith('\'') ? "\\&" + e : e;
    }
}
