using System.CommandLine;
using System.CommandLine.Help;
using VgMesh.Client;

namespace VgMesh.Cli;

/// <summary>Where the agent is: its local socket (root only, no token), or a TCP endpoint with the cluster's token.</summary>
internal sealed record AgentTarget(string Socket, string? Endpoint, string? TokenFile)
{
    public string Where => Endpoint ?? Socket;

    public VgMeshClient Connect(TimeSpan? timeout = null) => Endpoint is null ? VgMeshClient.ForUnixSocket(Socket, timeout)
        : VgMeshClient.ForTcp(new Uri(Endpoint), TokenFile is null ? throw new ArgumentException("--endpoint needs --token-file with the cluster's token") : File.ReadAllText(TokenFile).Trim(), timeout);
}

/// <summary>
/// Every verb, option and argument of <c>vgmesh</c>, defined once: the parser, each verb's
/// <c>--help</c>, the typo suggestions, shell completion and the man page all read this tree.
/// </summary>
internal static class CliCommands
{
    public static readonly Option<string> Socket = new("--socket")
    {
        Description = "The agent's local socket (root only; no token needed). Env: VGMESH_SOCKET.",
        HelpName = "PATH", Recursive = true,
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("VGMESH_SOCKET") ?? "/run/vgmesh/vgmeshd.sock",
    };

    public static readonly Option<string?> Endpoint = new("--endpoint")
    {
        Description = "An agent's API over TCP, https://HOST:PORT; needs --token-file. Env: VGMESH_ENDPOINT.",
        HelpName = "URL", Recursive = true,
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("VGMESH_ENDPOINT"),
    };

    public static readonly Option<string?> TokenFile = new("--token-file")
    {
        Description = "A file holding the cluster's API token. Env: VGMESH_TOKEN_FILE.",
        HelpName = "FILE", Recursive = true,
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("VGMESH_TOKEN_FILE"),
    };

    public static readonly Option<bool> Json = new("--json") { Description = "Print the API's JSON instead of a table or a line.", Recursive = true };

    public static AgentTarget Target(ParseResult parsed) => new(parsed.GetValue(Socket)!, parsed.GetValue(Endpoint), parsed.GetValue(TokenFile));

    public static RootCommand Build()
    {
        var root = new RootCommand("vgmesh: operate the shared volume group through any host's vgmesh agent. Every change goes through the cluster's coordinator and is applied by every host before the command returns.")
        {
            Socket, Endpoint, TokenFile, Json,
            Lv(), Lls(), Host(), Cluster(), Events(), SyncCommand.Command(), Completion.Command(), ManPage.Command(),
        };
        // Only the spellings a Linux operator types: '-?', '/?' and '/h' would crowd every completion.
        root.Options.Remove(root.Options.OfType<HelpOption>().Single());
        root.Options.Add(new HelpOption("--help", ["-h"]));
        return root;
    }

    private static Argument<string> LvName(string name = "NAME", string description = "The logical volume, as LVM names it in the shared VG.")
    {
        var a = new Argument<string>(name) { Description = description };
        a.CompletionSources.Add(ctx => Completion.LvNames(ctx));
        return a;
    }

    private static Option<string?> HostOption(string description)
    {
        var o = new Option<string?>("--host") { Description = description, HelpName = "HOST" };
        o.CompletionSources.Add(ctx => Completion.HostNames(ctx));
        return o;
    }

    private static Option<string> Size(string description) => new("--size") { Description = description, HelpName = "SIZE", Required = true };

    /// <summary>A verb that reads or changes something through the agent.</summary>
    private static Command Verb(string name, string description, Func<ParseResult, VgMeshClient, bool, TextWriter, TextWriter, CancellationToken, Task<int>> run, params Symbol[] symbols)
    {
        var c = new Command(name, description);
        foreach (var s in symbols)
        {
            switch (s)
            {
                case Argument a: c.Arguments.Add(a); break;
                case Option o: c.Options.Add(o); break;
            }
        }

        c.SetAction((parsed, ct) => CliApp.WithClientAsync(parsed, (client, json, o, e, t) => run(parsed, client, json, o, e, t), ct));
        return c;
    }

    private static Command Lv()
    {
        var lv = new Command("lv", "Logical volumes of the shared VG: list, create, resize, activate, snapshot.");
        lv.Subcommands.Add(Verb("list", "List the VG's LVs: size, where each is active, its claim.",
            async (_, c, json, o, _, ct) => await Output.PrintAsync(await c.ListLvsAsync(ct).ConfigureAwait(false), ApiJsonContext.Default.ListLvView, json, o, Output.LvTable).ConfigureAwait(false)));

        var show = LvName();
        lv.Subcommands.Add(Verb("show", "Show one LV.",
            async (p, c, json, o, _, ct) => await Output.PrintAsync(await c.ShowLvAsync(p.GetValue(show)!, ct).ConfigureAwait(false), ApiJsonContext.Default.LvView, json, o, v => Output.LvTable([v])).ConfigureAwait(false), show));

        var createName = new Argument<string>("NAME") { Description = "The new LV's name (LVM's rules: letters, digits, + _ . -, not starting with -)." };
        var createSize = Size("Its size, like 10G or 512M (LVM units).");
        var tags = new Option<string[]>("--tag") { Description = "An LVM tag to set; repeat for more.", HelpName = "TAG", AllowMultipleArgumentsPerToken = false };
        lv.Subcommands.Add(Verb("create", "Create an LV (inactive everywhere until activated).",
            (p, c, json, o, e, ct) => Output.ChangeAsync(c.CreateLvAsync(new CreateLvBody(p.GetValue(createName)!, p.GetValue(createSize)!, [.. p.GetValue(tags) ?? []]), ct), json, o, e),
            createName, createSize, tags));

        var remove = LvName();
        lv.Subcommands.Add(Verb("remove", "Remove an LV; refused while it is active or open anywhere.",
            (p, c, json, o, e, ct) => Output.ChangeAsync(c.RemoveLvAsync(p.GetValue(remove)!, null, ct), json, o, e), remove));

        var extend = LvName();
        var extendSize = Size("+SIZE to add, or the new SIZE.");
        lv.Subcommands.Add(Verb("extend", "Grow an LV; every host where it is active refreshes its table.",
            (p, c, json, o, e, ct) => Output.ChangeAsync(c.ExtendLvAsync(p.GetValue(extend)!, new ResizeLvBody(p.GetValue(extendSize)!), ct), json, o, e), extend, extendSize));

        var reduce = LvName();
        var reduceSize = Size("-SIZE to take off, or the new SIZE. Shrink the filesystem first.");
        lv.Subcommands.Add(Verb("reduce", "Shrink an LV; refused while it is open.",
            (p, c, json, o, e, ct) => Output.ChangeAsync(c.ReduceLvAsync(p.GetValue(reduce)!, new ResizeLvBody(p.GetValue(reduceSize)!), ct), json, o, e), reduce, reduceSize));

        var rename = LvName();
        var newName = new Argument<string>("NEWNAME") { Description = "The new name." };
        lv.Subcommands.Add(Verb("rename", "Rename an LV; it must be inactive everywhere first.",
            (p, c, json, o, e, ct) => Output.ChangeAsync(c.RenameLvAsync(p.GetValue(rename)!, new RenameLvBody(p.GetValue(newName)!), ct), json, o, e), rename, newName));

        var origin = LvName("ORIGIN", "The LV to snapshot.");
        var snapName = new Option<string>("--name") { Description = "The snapshot's name.", HelpName = "SNAP", Required = true };
        var snapSize = Size("Copy-on-write space, like 1G.");
        var chunk = new Option<string?>("--chunk-size") { Description = "Copy-on-write chunk size, like 64K (LVM's default otherwise).", HelpName = "SIZE" };
        lv.Subcommands.Add(Verb("snapshot", "Snapshot an LV; runs on the host where ORIGIN is active, whose kernel does the copy-on-write.",
            (p, c, json, o, e, ct) => Output.ChangeAsync(c.SnapshotLvAsync(p.GetValue(origin)!, new SnapshotLvBody(p.GetValue(snapName)!, p.GetValue(snapSize)!, p.GetValue(chunk)), ct), json, o, e),
            origin, snapName, snapSize, chunk));

        var merge = LvName("SNAP", "The snapshot to merge back into its origin.");
        lv.Subcommands.Add(Verb("merge", "Merge a snapshot back into its origin.",
            (p, c, json, o, e, ct) => Output.ChangeAsync(c.MergeLvAsync(p.GetValue(merge)!, new MergeLvBody(), ct), json, o, e), merge));

        var tagged = LvName();
        var addTags = new Option<string[]>("--add") { Description = "A tag to put on (repeatable), e.g. lls.read-only.", AllowMultipleArgumentsPerToken = false };
        var removeTags = new Option<string[]>("--remove") { Description = "A tag to take off (repeatable)." };
        lv.Subcommands.Add(Verb("tag", "Put tags on an LV or take them off (LLS flags: lls.hidden, lls.read-only, lls.no-mount).",
            (p, c, json, o, e, ct) => Output.ChangeAsync(c.TagLvAsync(p.GetValue(tagged)!, new TagLvBody(p.GetValue(addTags), p.GetValue(removeTags)), ct), json, o, e),
            tagged, addTags, removeTags));

        var activate = LvName();
        var exclusive = new Option<bool>("--exclusive") { Description = "Active on one host only (the default): a VM's disk." };
        var shared = new Option<bool>("--shared") { Description = "Active on several hosts at once (read-mostly or cluster filesystems)." };
        var activateHost = HostOption("Where to activate; this agent's host when left out.");
        var wait = new Option<bool>("--wait") { Description = "Wait for the current holder to close the device, then hand off." };
        var activateVerb = Verb("activate", "Activate an LV on a host, exclusively or shared; an exclusive claim moves only when the LV is closed on its holder.",
            (p, c, json, o, e, ct) => Output.ChangeAsync(c.ActivateLvAsync(p.GetValue(activate)!, new ActivateLvBody(p.GetValue(activateHost), Exclusive: !p.GetValue(shared), Wait: p.GetValue(wait)), ct), json, o, e),
            activate, exclusive, shared, activateHost, wait);
        activateVerb.Validators.Add(r =>
        {
            if (r.GetValue(exclusive) && r.GetValue(shared))
            {
                r.AddError("choose one of --exclusive and --shared");
            }
        });
        lv.Subcommands.Add(activateVerb);

        var deactivate = LvName();
        var deactivateHost = HostOption("Only this host leaves a shared claim; everywhere when left out.");
        lv.Subcommands.Add(Verb("deactivate", "Deactivate an LV everywhere, or leave a shared claim on one host.",
            (p, c, json, o, e, ct) => Output.ChangeAsync(c.DeactivateLvAsync(p.GetValue(deactivate)!, new DeactivateLvBody(p.GetValue(deactivateHost)), ct), json, o, e), deactivate, deactivateHost));

        var unfence = LvName();
        lv.Subcommands.Add(Verb("unfence", "Restore an LV this host fenced (error table), once it holds the claim again.",
            (p, c, json, o, e, ct) => Output.ChangeAsync(c.UnfenceLvAsync(p.GetValue(unfence)!, ct), json, o, e), unfence));
        var template = LvName("TEMPLATE", "The golden LV to clone.");
        var cloneName = new Option<string>("--name") { Description = "The clone's name.", HelpName = "NEW", Required = true };
        var cloneSize = new Option<string?>("--size") { Description = "Copy-on-write space: how far the clone may diverge (default a quarter of the template; a thin template's clone is thin, in its pool, unless a size is given).", HelpName = "COW" };
        lv.Subcommands.Add(Verb("clone", "Clone a golden template: a snapshot of it, thin where the template is a thin volume (made where its pool is active), else classic (made where the template is active; the clone's writes go to its copy-on-write space).",
            async (p, c, json, o, e, ct) =>
            {
                var t = await c.ShowLvAsync(p.GetValue(template)!, ct).ConfigureAwait(false);
                // lv_attr's first letter 'V': a thin volume, whose clone needs no space of its own.
                var size = p.GetValue(cloneSize) ?? (t.Attr.StartsWith('V') ? null : $"{Math.Max(16, t.SizeBytes / 4 >> 20)}M");
                return await Output.ChangeAsync(c.SnapshotLvAsync(t.Name, new SnapshotLvBody(p.GetValue(cloneName)!, size), ct), json, o, e).ConfigureAwait(false);
            }, template, cloneName, cloneSize));
        var usageOf = new Argument<string?>("TEMPLATE") { Description = "Only this template's clones; every snapshot when left out.", Arity = ArgumentArity.ZeroOrOne };
        usageOf.CompletionSources.Add(ctx => Completion.LvNames(ctx));
        lv.Subcommands.Add(Verb("usage", "How far each clone (snapshot) has diverged from its template: copy-on-write allocated, as its holder's kernel reports it.",
            async (p, c, json, o, _, ct) => await Output.PrintAsync(await c.UsageAsync(p.GetValue(usageOf), ct).ConfigureAwait(false), ApiJsonContext.Default.ListCloneUsageView, json, o, Output.UsageTable).ConfigureAwait(false), usageOf));
        lv.Subcommands.Add(BackupCommands.Backup(() => LvName()));
        lv.Subcommands.Add(BackupCommands.Restore());
        return lv;
    }

    /// <summary>Operators' side of LLS: quotas for the whole cluster (flags are LV tags: <c>vgmesh lv tag</c>).</summary>
    private static Command Lls()
    {
        var lls = new Command("lls", "LLS containers' volumes: quotas set for the whole cluster (flags: 'vgmesh lv tag NAME --add lls.hidden').");
        var quota = new Command("quota", "Containers' quotas: list them, set limits, or go back to the host's configuration.");
        quota.Subcommands.Add(Verb("list", "Every container with LLS volumes or a quota: its limits (set here, configured on its host) and what it uses.",
            async (_, c, json, o, _, ct) => await Output.PrintAsync(await c.LlsQuotasAsync(ct).ConfigureAwait(false), ApiJsonContext.Default.ListLlsQuotaView, json, o, Output.QuotaTable).ConfigureAwait(false)));

        var owner = new Argument<string>("HOST/CONTAINER") { Description = "The container, as 'vgmesh lls quota list' shows it." };
        var maxBytes = new Option<string?>("--max-bytes") { Description = "All its volumes together, like 10G; 'none' or 'inherit' (its host's configuration).", HelpName = "SIZE" };
        var maxVolumes = new Option<string?>("--max-volumes") { Description = "Number of volumes, snapshots included; 'none' or 'inherit'.", HelpName = "N" };
        var maxSnapshots = new Option<string?>("--max-snapshots") { Description = "Number of snapshots; 'none' or 'inherit'.", HelpName = "N" };
        var maxSnapshotBytes = new Option<string?>("--max-snapshot-bytes") { Description = "The largest a snapshot may be or grow to; 'none' or 'inherit'.", HelpName = "SIZE" };
        quota.Subcommands.Add(Verb("set", "Set limits of a container's quota for the whole cluster (kept in the VG's metadata); limits not given are left as they are. Volumes over a lowered limit stay; the next create, snapshot or growth is refused.",
            (p, c, json, o, e, ct) => Split(p.GetValue(owner)!) is var (h, n) && h is not null
                ? Output.ChangeAsync(c.SetLlsQuotaAsync(h, n!, new LlsQuotaBody(p.GetValue(maxBytes), p.GetValue(maxVolumes), p.GetValue(maxSnapshots), p.GetValue(maxSnapshotBytes)), ct), json, o, e)
                : BadOwnerAsync(e, p.GetValue(owner) ?? ""),
            owner, maxBytes, maxVolumes, maxSnapshots, maxSnapshotBytes));

        var resetOwner = new Argument<string>("HOST/CONTAINER") { Description = "The container." };
        quota.Subcommands.Add(Verb("reset", "Drop the limits set for a container: its host's configured quota applies again.",
            (p, c, json, o, e, ct) => Split(p.GetValue(resetOwner)!) is var (h, n) && h is not null
                ? Output.ChangeAsync(c.SetLlsQuotaAsync(h, n!, new LlsQuotaBody("inherit", "inherit", "inherit", "inherit"), ct), json, o, e)
                : BadOwnerAsync(e, p.GetValue(resetOwner) ?? ""),
            resetOwner));
        lls.Subcommands.Add(quota);
        return lls;

        static (string? Host, string? Container) Split(string owner) => owner.Split('/') is [var h, var n] && h.Length > 0 && n.Length > 0 ? (h, n) : (null, null);

        static async Task<int> BadOwnerAsync(TextWriter stderr, string owner)
        {
            await stderr.WriteLineAsync($"vgmesh: '{owner}' is not HOST/CONTAINER; 'vgmesh lls quota list' shows the containers").ConfigureAwait(false);
            return ExitCodes.Usage;
        }
    }

    private static Command Host()
    {
        var host = new Command("host", "The cluster's hosts as the coordinator sees them.");
        host.Subcommands.Add(Verb("list", "List the hosts: membership, progress, active LVs, alerts.",
            async (_, c, json, o, _, ct) => await Output.PrintAsync(await c.ListHostsAsync(ct).ConfigureAwait(false), ApiJsonContext.Default.ListHostView, json, o, Output.HostTable).ConfigureAwait(false)));
        var name = new Argument<string>("HOST") { Description = "The host's name in the cluster." };
        name.CompletionSources.Add(ctx => Completion.HostNames(ctx));
        host.Subcommands.Add(Verb("show", "Show one host.",
            async (p, c, json, o, _, ct) => await Output.PrintAsync(await c.ShowHostAsync(p.GetValue(name)!, ct).ConfigureAwait(false), ApiJsonContext.Default.HostView, json, o, Output.HostText).ConfigureAwait(false), name));
        return host;
    }

    private static Command Cluster()
    {
        var cluster = new Command("cluster", "The cluster as a whole.");
        cluster.Subcommands.Add(Verb("status", "The coordinator, its lease and generation, pending operations, and every host.",
            async (_, c, json, o, _, ct) => await Output.PrintAsync(await c.ClusterStatusAsync(ct).ConfigureAwait(false), ApiJsonContext.Default.ClusterStatusView, json, o, Output.StatusText).ConfigureAwait(false)));
        cluster.Subcommands.Add(Verb("form", "After every host was down: form the cluster from this host, which the others then join. Refused while this host is a member, or while a coordinator holds the lease.",
            (_, c, json, o, e, ct) => Output.ChangeAsync(c.FormClusterAsync(ct), json, o, e)));
        return cluster;
    }

    private static Command Events()
    {
        var after = new Option<long?>("--after") { Description = "Start after this revision.", HelpName = "REVISION" };
        var follow = new Option<bool>("--follow") { Description = "Keep waiting for new events (Ctrl-C ends)." };
        return Verb("events", "The cluster's events, one line each: every change, which host made it and the VG's seqno.", async (p, c, json, o, _, ct) =>
        {
            try
            {
                await foreach (var e in c.EventsAsync(p.GetValue(after), p.GetValue(follow), ct).ConfigureAwait(false))
                {
                    await o.WriteLineAsync(Output.Event(e, json)).ConfigureAwait(false);
                    await o.FlushAsync(ct).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                // Ctrl-C ends a follow.
            }

            return ExitCodes.Ok;
        }, after, follow);
    }
}
