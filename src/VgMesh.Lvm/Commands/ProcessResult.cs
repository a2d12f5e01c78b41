namespace VgMesh.Lvm.Commands;

/// <summary>One finished process: what ran, how it ended and what it printed, kept together.</summary>
public sealed record ProcessResult(
    IReadOnlyList<string> Argv,
    int ExitCode,
    string Stdout,
    string Stderr,
    TimeSpan Duration)
{
    public bool Succeeded => ExitCode == 0;

    /// <summary>The argv joined for messages only; never executed.</summary>
    public string CommandLine => string.Join(' ', Argv);

    /// <summary>Stderr's meaningful lines on one line, for error messages.</summary>
    public string StderrSummary
    {
        get
        {
            var lines = Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Where(l => !l.StartsWith("Run `", StringComparison.Ordinal) && l != "Command failed.");
            var text = string.Join(" ", lines);
            return text.Length == 0 ? "(no message)" : text;
        }
    }
}
