using System.CommandLine;
using System.CommandLine.Help;
using System.Reflection;
using System.Text;

namespace VgMesh.CommandLine;

/// <summary>
/// A manual page rendered from a program's command tree (a hidden <c>manpage</c> verb, run by
/// <c>ops/package</c>), so the page never says something the parser does not do. What the tree
/// cannot say (the prose, exit codes, environment, files) is given here, once per program.
/// </summary>
/// <param name="Program">the command's name, as typed</param>
/// <param name="Section">1 for users' commands, 8 for administrators'</param>
/// <param name="Summary">the NAME line after the dash</param>
/// <param name="Synopsis">the SYNOPSIS after the program's name, in troff</param>
/// <param name="Paragraphs">DESCRIPTION paragraphs after the root command's description, plain text</param>
public sealed record ManualPage(
    string Program,
    int Section,
    string Summary,
    string Synopsis,
    IReadOnlyList<string> Paragraphs,
    IReadOnlyList<ManualItem> ExitStatus,
    IReadOnlyList<ManualItem> Environment,
    IReadOnlyList<ManualItem> Files,
    IReadOnlyList<string> SeeAlso)
{
    /// <summary>The hidden <c>manpage</c> verb printing this page for the tree <paramref name="build"/> makes.</summary>
    public Command Command(Func<RootCommand> build, int ok)
    {
        ArgumentNullException.ThrowIfNull(build);
        var c = new Command("manpage", $"Print the {Program}({Section}) manual page (troff).") { Hidden = true };
        c.SetAction(async (p, ct) =>
        {
            await p.InvocationConfiguration.Output.WriteAsync(Render(build()).AsMemory(), ct).ConfigureAwait(false);
            return ok;
        });
        return c;
    }

    public string Render(RootCommand root)
    {
        ArgumentNullException.ThrowIfNull(root);
        // Every assembly of the solution carries the release's version (Directory.Build.props).
        var version = typeof(ManualPage).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "";
        var manual = Section == 8 ? "System Administration" : "User Commands";
        var t = new StringBuilder();
        t.Append(".TH ").Append(Esc(Program.ToUpperInvariant())).Append(' ').Append(Section).Append(" \"\" \"vgmesh ").Append(Esc(version)).Append("\" \"").Append(manual).Append("\"\n");
        t.Append(".SH NAME\n").Append(Esc(Program)).Append(" \\- ").Append(Esc(Summary)).Append('\n');
        t.Append(".SH SYNOPSIS\n.B ").Append(Esc(Program)).Append('\n').Append(Synopsis).Append('\n');
        t.Append(".SH DESCRIPTION\n").Append(Esc(root.Description ?? "")).Append('\n');
        foreach (var paragraph in Paragraphs)
        {
            t.Append(".PP\n").Append(Esc(paragraph)).Append('\n');
        }

        t.Append(".SH GLOBAL OPTIONS\n");
        foreach (var o in root.Options.Where(o => o.Recursive && !o.Hidden && o is not HelpOption))
        {
            OptionItem(t, o);
        }

        t.Append(".PP\nEvery command takes \\fB\\-\\-help\\fR (\\fB\\-h\\fR) for its own usage; \\fB").Append(Esc(Program)).Append(" \\-\\-version\\fR prints the version.\n");
        t.Append(".SH COMMANDS\n");
        foreach (var (path, command) in Leaves(root, ""))
        {
            t.Append(".SS \"").Append(Esc(LeafSynopsis(Program, path, command))).Append("\"\n").Append(Esc(command.Description ?? "")).Append('\n');
            foreach (var a in command.Arguments)
            {
                t.Append(".TP\n.I ").Append(Esc(a.Name)).Append('\n').Append(Esc(a.Description ?? "")).Append('\n');
            }

            foreach (var o in command.Options.Where(o => !o.Hidden && !o.Recursive && o is not HelpOption))
            {
                OptionItem(t, o);
            }
        }

        Items(t, "EXIT STATUS", ExitStatus, ".B ");
        Items(t, "ENVIRONMENT", Environment, ".B ");
        Items(t, "FILES", Files, ".I ");
        if (SeeAlso.Count > 0)
        {
            t.Append(".SH SEE ALSO\n");
            for (var i = 0; i < SeeAlso.Count; i++)
            {
                // Each entry is "name(section)", rendered as .BR name (section),
                var open = SeeAlso[i].IndexOf('(', StringComparison.Ordinal);
                t.Append(".BR ").Append(Esc(SeeAlso[i][..open])).Append(" (").Append(Esc(SeeAlso[i][(open + 1)..^1])).Append(')').Append(i < SeeAlso.Count - 1 ? ",\n" : "\n");
            }
        }

        return t.ToString();
    }

    private static void Items(StringBuilder t, string heading, IReadOnlyList<ManualItem> items, string style)
    {
        if (items.Count == 0)
        {
            return;
        }

        t.Append(".SH ").Append(heading).Append('\n');
        foreach (var item in items)
        {
            t.Append(".TP\n").Append(style).Append(Esc(item.Term)).Append('\n').Append(Esc(item.Text)).Append('\n');
        }
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

    private static string LeafSynopsis(string program, string path, Command c)
    {
        var parts = new List<string> { program + " " + path };
        parts.AddRange(c.Arguments.Select(a => a.Name));
        foreach (var o in c.Options.Where(o => !o.Hidden && !o.Recursive && o is not HelpOption))
        {
            var text = o.ValueType == typeof(bool) ? o.Name : $"{o.Name} {o.HelpName ?? "VALUE"}";
            parts.Add(o.Required ? text : $"[{text}]");
        }

        return string.Join(' ', parts);
    }

    /// <summary>Text for troff: backslashes and hyphens escaped, and no line starting with a control character (descriptions may hold several lines).</summary>
    internal static string Esc(string s)
    {
        var e = s.Replace("\\", "\\e", StringComparison.Ordinal).Replace("-", "\\-", StringComparison.Ordinal).Replace("\"", "\\(dq", StringComparison.Ordinal);
        return string.Join('\n', e.Split('\n').Select(line => line.StartsWith('.') || line.StartsWith('\'') ? "\\&" + line : line));
    }
}

/// <summary>One tagged paragraph of a manual section: an exit code, a variable, a file.</summary>
public sealed record ManualItem(string Term, string Text);
