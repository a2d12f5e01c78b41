using System.Text.RegularExpressions;

namespace VgMesh.Cli;

/// <summary>
/// A <c>vgmesh sync</c> destination on a host outside the cluster (or not running an agent):
/// <c>ssh://[USER@]HOST[:PORT]/DEVICE</c>. The stream goes to <c>vgmesh sync --apply - DEVICE</c>
/// run there by <c>ssh</c>, as lvmsync sends to <c>ssh HOST lvmsync --apply - DEVICE</c>.
/// Everything that reaches the remote shell is checked here first and quoted there: ssh joins
/// its command arguments into one line for the remote shell, so an argument array alone would
/// not keep a name from being read as shell syntax.
/// </summary>
internal sealed partial record SshDestination(string? User, string Host, int? Port, string Path)
{
    public const string Scheme = "ssh://";

    // A host name or IPv4 address; never starting with '-' (ssh would read it as an option).
    [GeneratedRegex(@"^(?:(?<user>[a-z_][a-z0-9_-]{0,31})@)?(?<host>[A-Za-z0-9][A-Za-z0-9.-]{0,252})(?::(?<port>[0-9]{1,5}))?(?<path>/.*)$")]
    private static partial Regex Syntax();

    [GeneratedRegex(@"^/[A-Za-z0-9_.+/-]{1,4095}$")]
    private static partial Regex SafePath();

    public static bool IsSsh(string dest) => dest.StartsWith(Scheme, StringComparison.Ordinal);

    /// <exception cref="VgMesh.Sync.SyncException">The destination or the snapback path is not one vgmesh sends to.</exception>
    public static SshDestination Parse(string dest)
    {
        ArgumentNullException.ThrowIfNull(dest);
        var m = Syntax().Match(dest[Scheme.Length..]);
        if (!IsSsh(dest) || !m.Success)
        {
            throw Bad(dest, "give ssh://[USER@]HOST[:PORT]/DEVICE");
        }

        var port = m.Groups["port"].Success ? int.Parse(m.Groups["port"].Value, System.Globalization.CultureInfo.InvariantCulture) : (int?)null;
        if (port is < 1 or > 65535)
        {
            throw Bad(dest, "the port is 1-65535");
        }

        return new SshDestination(m.Groups["user"].Success ? m.Groups["user"].Value : null, m.Groups["host"].Value, port, CheckPath(m.Groups["path"].Value, dest));
    }

    /// <summary>
    /// The ssh command: never a prompt (BatchMode: a sync runs from scripts; a password prompt
    /// would wait forever), the operator's options, the host, and the remote command quoted.
    /// </summary>
    public IReadOnlyList<string> Argv(string remoteVgmesh, IReadOnlyList<string> sshOptions, string? snapback, bool json = false)
    {
        ArgumentNullException.ThrowIfNull(sshOptions);
        var argv = new List<string> { "ssh", "-o", "BatchMode=yes" };
        if (Port is { } p)
        {
            argv.AddRange(["-p", p.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        }

        if (User is { } u)
        {
            argv.AddRange(["-l", u]);
        }

        foreach (var o in sshOptions)
        {
            if (o.StartsWith('-') || o.Contains('\n', StringComparison.Ordinal))
            {
                throw new VgMesh.Sync.SyncException("bad-destination", $"--ssh-option {o}: give an ssh_config option as KEY=VALUE, like IdentityFile=/root/.ssh/id_sync.");
            }

            argv.AddRange(["-o", o]);
        }

        var remote = new List<string> { CheckPath(remoteVgmesh, "--remote-vgmesh", allowBare: true) };
        if (json)
        {
            remote.Add("--json"); // a global option: before the verb
        }

        remote.AddRange(["sync", "--apply", "-", Path]);
        if (snapback is not null)
        {
            remote.AddRange(["--snapback", CheckPath(snapback, "--snapback")]);
        }

        argv.Add(Host);
        argv.Add(string.Join(' ', remote.Select(Quote)));
        return argv;
    }

    /// <summary>POSIX shell single quotes: nothing inside them is special.</summary>
    public static string Quote(string s) => "'" + s.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    private static string CheckPath(string path, string what, bool allowBare = false)
    {
        if (allowBare && path == "vgmesh")
        {
            return path;
        }

        if (!SafePath().IsMatch(path) || path.Split('/').Any(p => p is "." or ".."))
        {
            throw Bad(what, $"'{path}' must be an absolute path of A-Z a-z 0-9 _ . + - / without . or .. parts");
        }

        return path;
    }

    private static VgMesh.Sync.SyncException Bad(string what, string why) =>
        new("bad-destination", $"{what}: {why}; nothing was sent.");
}
