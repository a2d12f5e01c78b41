using System.CommandLine;
using System.Globalization;
using System.Net.Sockets;
using System.CommandLine.Completions;
using System.Text.Json;
using VgMesh.Client;
using VgMesh.CommandLine;

namespace VgMesh.Lls;

/// <summary>Exit codes, as <c>vgmesh</c>'s: 0 done, 1 refused or failed, 2 usage, 3 agent unreachable.</summary>
internal static class ExitCodes
{
    public const int Ok = 0, Failed = 1, Usage = 2, Unreachable = 3;
}

/// <summary>
/// <c>lls</c>: a container's own LVM volumes and snapshots, through the host agent's socket in
/// <c>/lls</c>. The agent knows the container from the kernel; nothing here says who it is.
/// </summary>
internal static class LlsApp
{
    public const string DefaultSocket = "/lls/lls.sock";

    private static readonly Option<bool> Json = new("--json") { Description = "print JSON instead of text", Recursive = true };

    private static readonly Option<string> Socket = new("--socket")
    {
        Description = $"the agent's socket (default {DefaultSocket}, or $LLS_SOCKET)",
        Recursive = true,
        HelpName = "PATH",
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("LLS_SOCKET") ?? DefaultSocket,
    };

    /// <summary>Completion runs on every Tab: a slow or absent agent must not hang the shell.</summary>
    private static TimeSpan AgentTimeout => BashCompletion.AgentTimeout("LLS_COMPLETION_TIMEOUT");

    /// <summary>lls(1), rendered from the command tree by the hidden verb <c>lls manpage</c> (run by <c>ops/package</c>).</summary>
    public static readonly ManualPage Page = new(
        "lls",
        1,
        "manage a container's own LVM volumes and snapshots through the host's vgmeshd",
        "[\\fB\\-\\-json\\fR] [\\fB\\-\\-socket\\fR \\fIPATH\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR]",
        [
            "lls runs inside an LXC container registered with the host's vgmeshd(8) (Lls.Containers in /etc/vgmesh/vgmeshd.json). The agent puts it, with its socket, in the host directory /run/lls/NAME, which the container's configuration binds at /lls. It is linked statically, so it runs in any container; the package installs the copy the agent hands out as /usr/lib/vgmesh/lls.",
            "The agent knows the caller from the kernel (the socket's peer credentials and the process's cgroup), never from the request: a container reaches only its own volumes, whatever names it sends. Every change goes through the cluster's coordinator, within the container's quota. A volume is active exclusively on the container's host; its device is /dev/lls/NAME.",
            "A snapshot that fills is grown by the agent within the quota, and the administrator is mailed. A snapshot not opened for a day (the host's Lls.CollectUnusedAfterSeconds) is collected; lls list shows when.",
        ],
        [
            new($"{ExitCodes.Ok}", "done"),
            new($"{ExitCodes.Failed}", "refused or failed; the message says why and what to do next"),
            new($"{ExitCodes.Usage}", "usage error, and when run without arguments"),
            new($"{ExitCodes.Unreachable}", "the host's agent cannot be reached"),
        ],
        [new("LLS_SOCKET", "the agent's socket, when --socket is not given"), new("LLS_COMPLETION_TIMEOUT", "seconds completion waits for the agent's names (default 2)")],
        [new(DefaultSocket, "the host agent's socket for this container"), new("/dev/lls", "this container's volumes' device nodes")],
        ["vgmesh(8)", "vgmeshd(8)", "lxc.container.conf(5)"]);

    public static async Task<int> RunAsync(string[] argv, TextWriter stdout, TextWriter stderr, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(argv);
        var root = Build();
        if (argv.Length == 0)
        {
            // The seed's scripts: usage when run without arguments.
            await root.Parse(["--help"]).InvokeAsync(new InvocationConfiguration { Output = stderr, Error = stderr }, ct).ConfigureAwait(false);
            return ExitCodes.Usage;
        }

        var parsed = root.Parse(argv, new ParserConfiguration { ResponseFileTokenReplacer = null });
        var code = await parsed.InvokeAsync(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false }, ct).ConfigureAwait(false);
        return parsed.Errors.Count > 0 ? ExitCodes.Usage : code;
    }

    internal static RootCommand Build()
    {
        var root = new RootCommand("lls: manage this container's LVM volumes and snapshots (LXC+LVM+Snapshots), through the host's vgmeshd.\n" +
            "Exit codes: 0 done, 1 refused or failed, 2 usage, 3 agent unreachable.") { Json, Socket };

        var name = new Argument<string>("NAME") { Description = "the volume's name (A-Z a-z 0-9 _ + -)" };
        var size = new Option<string>("--size") { Description = "size, e.g. 10G or 512M", Required = true, HelpName = "SIZE" };
        var create = new Command("create", "create a volume; its device is /dev/lls/NAME") { name, size };
        create.SetAction((p, ct) => WithClientAsync(p, async (c, o, ct2) => await Volume(o, await c.LlsCreateAsync(new LlsCreateBody(p.GetValue(name)!, p.GetValue(size)!), ct2).ConfigureAwait(false), p.GetValue(Json)).ConfigureAwait(false), ct));

        var origin = new Argument<string>("ORIGIN") { Description = "the volume to snapshot" };
        origin.CompletionSources.Add(VolumeNames);
        var snapName = new Option<string>("--name") { Description = "the snapshot's name", Required = true, HelpName = "NAME" };
        var snapSize = new Option<string?>("--size") { Description = "room for changes (default: a quarter of the origin)", HelpName = "SIZE" };
        var snapshot = new Command("snapshot", "snapshot a volume (copy-on-write); the snapshot is a volume too") { origin, snapName, snapSize };
        snapshot.SetAction((p, ct) => WithClientAsync(p, async (c, o, ct2) => await Volume(o, await c.LlsSnapshotAsync(p.GetValue(origin)!, new LlsSnapshotBody(p.GetValue(snapName)!, p.GetValue(snapSize)), ct2).ConfigureAwait(false), p.GetValue(Json)).ConfigureAwait(false), ct));

        var delName = new Argument<string>("NAME") { Description = "the volume or snapshot" };
        delName.CompletionSources.Add(VolumeNames);
        var delete = new Command("delete", "delete a volume or snapshot; refused while it is mounted or has snapshots") { delName };
        delete.SetAction((p, ct) => WithClientAsync(p, async (c, o, ct2) =>
        {
            var gone = await c.LlsDeleteAsync(p.GetValue(delName)!, ct2).ConfigureAwait(false);
            await o.WriteLineAsync(p.GetValue(Json) ? JsonSerializer.Serialize(gone, ApiJsonContext.Default.LlsVolumeView) : $"deleted {gone.Name}").ConfigureAwait(false);
        }, ct));

        var resName = new Argument<string>("NAME") { Description = "the volume" };
        resName.CompletionSources.Add(VolumeNames);
        var resSize = new Option<string>("--size") { Description = "the new size, e.g. 20G (or +5G)", Required = true, HelpName = "SIZE" };
        var resize = new Command("resize", "grow a volume (shrinking needs it unmounted and inactive)") { resName, resSize };
        resize.SetAction((p, ct) => WithClientAsync(p, async (c, o, ct2) => await Volume(o, await c.LlsResizeAsync(p.GetValue(resName)!, new LlsResizeBody(p.GetValue(resSize)!), ct2).ConfigureAwait(false), p.GetValue(Json)).ConfigureAwait(false), ct));

        var list = new Command("list", "list this container's volumes, and refresh /dev/lls");
        list.SetAction((p, ct) => WithClientAsync(p, async (c, o, ct2) =>
        {
            var all = await c.LlsListAsync(ct2).ConfigureAwait(false);
            if (p.GetValue(Json))
            {
                await o.WriteLineAsync(JsonSerializer.Serialize(all, ApiJsonContext.Default.ListLlsVolumeView)).ConfigureAwait(false);
                return;
            }

            await o.WriteLineAsync($"{"NAME",-20} {"SIZE",10} {"ORIGIN",-16} {"USED%",6}  DEVICE").ConfigureAwait(false);
            foreach (var v in all)
            {
                var used = v.DataPercent is { } d ? d.ToString("0.0", CultureInfo.InvariantCulture) : "";
                var collect = v.CollectableAt is { } at ? $"  (unused: collected at {at.UtcDateTime:yyyy-MM-dd HH:mm:ss} UTC unless opened)" : "";
                await o.WriteLineAsync($"{v.Name,-20} {SizeSpec.Format(v.SizeBytes),10} {v.Origin ?? "",-16} {used,6}  {v.Device ?? (v.Active ? "-" : "(inactive)")}{(v.Flags.Count > 0 ? "  [" + string.Join(",", v.Flags) + "]" : "")}{collect}").ConfigureAwait(false);
            }
        }, ct));

        var setName = new Argument<string>("NAME") { Description = "the volume or snapshot" };
        setName.CompletionSources.Add(VolumeNames);
        Option<bool> Flag(string name, string description) => new(name) { Description = description };
        var hidden = Flag("--hidden", "not listed and no device (while it is under construction)");
        var visible = Flag("--visible", "listed, with its device");
        var readOnly = Flag("--read-only", "its device opens for reading only");
        var readWrite = Flag("--read-write", "its device opens for reading and writing");
        var noMount = Flag("--no-mount", "no device at all, listed");
        var mount = Flag("--mount", "a device again");
        var set = new Command("set", "set a volume's flags (unmount it before restricting it)") { setName, hidden, visible, readOnly, readWrite, noMount, mount };
        set.Validators.Add(r =>
        {
            bool On(Option<bool> o) => r.GetValue(o);
            if ((On(hidden) && On(visible)) || (On(readOnly) && On(readWrite)) || (On(noMount) && On(mount)))
            {
                r.AddError("contradicting flags: give one of --hidden/--visible, --read-only/--read-write, --no-mount/--mount each");
            }
            else if (!new[] { hidden, visible, readOnly, readWrite, noMount, mount }.Any(On))
            {
                r.AddError("give a flag: --hidden, --visible, --read-only, --read-write, --no-mount or --mount");
            }
        });
        static bool? Either(ParseResult p, Option<bool> yes, Option<bool> no) => p.GetValue(yes) ? true : p.GetValue(no) ? false : null;
        set.SetAction((p, ct) => WithClientAsync(p, async (c, o, ct2) => await Volume(o, await c.LlsSetAsync(p.GetValue(setName)!,
            new LlsFlagsBody(Either(p, hidden, visible), Either(p, readOnly, readWrite), Either(p, noMount, mount)), ct2).ConfigureAwait(false), p.GetValue(Json)).ConfigureAwait(false), ct));

        var fstab = new Option<string>("--fstab") { Description = "the table to read", DefaultValueFactory = _ => "/etc/fstab", HelpName = "FSTAB" };
        var mountOnBoot = new Command("mount-on-boot", "mount this container's LLS volumes listed in /etc/fstab (for rc.local or a unit)") { fstab };
        mountOnBoot.SetAction((p, ct) => WithClientAsync(p, (c, o, ct2) => MountOnBootAsync(c, p.GetValue(fstab)!, o, p.InvocationConfiguration.Error, ct2), ct));

        root.Subcommands.Add(create);
        root.Subcommands.Add(snapshot);
        root.Subcommands.Add(delete);
        root.Subcommands.Add(resize);
        root.Subcommands.Add(list);
        root.Subcommands.Add(set);
        root.Subcommands.Add(mountOnBoot);
        root.Subcommands.Add(BashCompletion.Command("lls", "verbs, options, and this container's volume names from the agent", ExitCodes.Ok));
        root.Subcommands.Add(Page.Command(Build, ExitCodes.Ok));
        return root;
    }

    /// <summary>This container's volumes, for completion; none when the agent cannot answer in time.</summary>
    private static IEnumerable<string> VolumeNames(CompletionContext context) => BashCompletion.Ask(AgentTimeout, async ct =>
    {
        using var client = VgMeshClient.ForUnixSocket(context.ParseResult.GetValue(Socket)!);
        return (await client.LlsListAsync(ct).ConfigureAwait(false)).Select(v => v.Name);
    });

    /// <summary>
    /// The seed's lls_mount_on_boot.sh: the device nodes refreshed (a list), then every fstab
    /// line on <c>/dev/lls/</c> not mounted yet is mounted by its mount point, so fstab's
    /// options apply. A volume that cannot be mounted is reported and the rest still are.
    /// </summary>
    private static async Task MountOnBootAsync(VgMeshClient client, string fstab, TextWriter o, TextWriter stderr, CancellationToken ct)
    {
        var volumes = await client.LlsListAsync(ct).ConfigureAwait(false);
        var mounted = File.Exists("/proc/mounts") ? File.ReadAllLines("/proc/mounts").Select(l => l.Split(' ')).Where(f => f.Length > 1).Select(f => f[1]).ToHashSet(StringComparer.Ordinal) : [];
        var failed = 0;
        foreach (var line in File.Exists(fstab) ? await File.ReadAllLinesAsync(fstab, ct).ConfigureAwait(false) : [])
        {
            var f = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (f.Length < 2 || f[0].StartsWith('#') || !f[0].StartsWith("/dev/lls/", StringComparison.Ordinal) || mounted.Contains(f[1]))
            {
                continue;
            }

            var name = f[0]["/dev/lls/".Length..];
            if (volumes.FirstOrDefault(v => v.Name == name) is not { Device: not null })
            {
                await stderr.WriteLineAsync($"lls: {f[1]}: {name} has no device here (deleted, hidden, not mountable, or not active on this host)").ConfigureAwait(false);
                failed++;
                continue;
            }

            using var mount = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("mount") { ArgumentList = { f[1] }, UseShellExecute = false })!;
            await mount.WaitForExitAsync(ct).ConfigureAwait(false);
            if (mount.ExitCode == 0)
            {
                await o.WriteLineAsync($"mounted {f[0]} on {f[1]}").ConfigureAwait(false);
            }
            else
            {
                failed++;
            }
        }

        if (failed > 0)
        {
            throw new VgMeshApiException(new Problem("about:blank", "mount failed", 1, $"{failed} LLS volume(s) of {fstab} not mounted", "mount-failed"));
        }
    }

    private static Task Volume(TextWriter o, LlsVolumeView v, bool json) => o.WriteLineAsync(json ? JsonSerializer.Serialize(v, ApiJsonContext.Default.LlsVolumeView)
        : $"{v.Name}: {SizeSpec.Format(v.SizeBytes)}{(v.Origin is { } og ? $", snapshot of {og}" : "")}, {v.Device ?? "no device"}");

    private static async Task<int> WithClientAsync(ParseResult parsed, Func<VgMeshClient, TextWriter, CancellationToken, Task> verb, CancellationToken ct)
    {
        var stdout = parsed.InvocationConfiguration.Output;
        var stderr = parsed.InvocationConfiguration.Error;
        var socket = parsed.GetValue(Socket)!;
        using var client = VgMeshClient.ForUnixSocket(socket);
        try
        {
            await verb(client, stdout, ct).ConfigureAwait(false);
            return ExitCodes.Ok;
        }
        catch (VgMeshApiException e)
        {
            await stderr.WriteLineAsync($"lls: {e.Problem.Code}: {e.Problem.Detail}").ConfigureAwait(false);
            return ExitCodes.Failed;
        }
        catch (HttpRequestException e) when (e.InnerException is SocketException or IOException || e.HttpRequestError == HttpRequestError.ConnectionError)
        {
            var why = e.InnerException is SocketException { SocketErrorCode: SocketError.AddressNotAvailable } ? "no socket there" : e.Message;
            await stderr.WriteLineAsync($"lls: cannot reach the host's agent at {socket}: {why}. Is /lls bound into this container, and vgmeshd running on the host with this container in its Lls.Containers?").ConfigureAwait(false);
            return ExitCodes.Unreachable;
        }
    }
}
