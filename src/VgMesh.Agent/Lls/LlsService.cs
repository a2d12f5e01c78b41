using VgMesh.Agent.Api;
using VgMesh.Agent.Operations;
using VgMesh.Client;
using VgMesh.Lvm;
using VgMesh.Lvm.Reports;

namespace VgMesh.Agent.Lls;

/// <summary>
/// What a container asks for on its socket, done as the cluster does every change: through the
/// coordinator (with the container as owner and its quota, checked there), activated
/// exclusively on the container's host by a normal claim, then the device node given to the
/// container. Names in and out are the container's own; its LVs' full names never leave.
/// </summary>
public sealed class LlsService(VolumeService volumes, LvmDriver lvm, ContainerDevices devices, LlsGrants grants, SnapshotUse use, AgentOptions options)
{
    public const string HiddenTag = "lls.hidden";
    public const string ReadOnlyTag = "lls.read-only";
    public const string NoMountTag = "lls.no-mount";

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, SemaphoreSlim> _syncGates = new(StringComparer.Ordinal);

    private LlsOptions Lls => options.Lls;

    /// <summary>The caller's volumes; the device nodes in its <c>/dev/lls</c> are brought in line first (the seed's <c>/dev/mf</c> refresh).</summary>
    public Task<List<LlsVolumeView>> ListAsync(LlsCaller caller, CancellationToken ct) => ListAsync(caller, hidden: false, ct);

    private async Task<List<LlsVolumeView>> ListAsync(LlsCaller caller, bool hidden, CancellationToken ct)
    {
        var mine = await MineAsync(caller, ct).ConfigureAwait(false);
        var nodes = await SyncNodesAsync(caller.Container, mine, ct).ConfigureAwait(false);
        return mine.Where(v => hidden || !v.Lv.Tags.Contains(HiddenTag)).Select(v => View(v, mine, nodes)).ToList();
    }

    public async Task<LlsVolumeView> CreateAsync(LlsCaller caller, LlsCreateBody body, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(body);
        var lv = LlsNames.LvName(options.Host, caller.Container, body.Name);
        var scope = Scope(caller);
        await AsContainerAsync(caller, async () =>
        {
            await volumes.CreateAsync(new CreateLvBody(lv, body.Size, [LlsNames.OwnerTag(caller.Owner)]), scope, ct).ConfigureAwait(false);
            await volumes.ActivateAsync(lv, new ActivateLvBody(options.Host), scope, ct).ConfigureAwait(false);
        }).ConfigureAwait(false);
        return await OneAsync(caller, body.Name, ct).ConfigureAwait(false);
    }

    /// <summary>A classic snapshot, made in this host's kernel: the origin is claimed here first if it is active nowhere.</summary>
    public async Task<LlsVolumeView> SnapshotAsync(LlsCaller caller, string origin, LlsSnapshotBody body, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(body);
        var originLv = LlsNames.LvName(options.Host, caller.Container, origin);
        var snapLv = LlsNames.LvName(options.Host, caller.Container, body.Name);
        if (body.Size is not null)
        {
            VolumeService.ParseSize(body.Size, allowRelative: false); // refused before the VG is read
        }

        var source = await FindAsync(caller, origin, ct).ConfigureAwait(false);
        var size = body.Size ?? SizeSpec.Format(Math.Max(4L << 20, source.Lv.SizeBytes / 4));
        var scope = Scope(caller);
        await AsContainerAsync(caller, async () =>
        {
            if (!source.Lv.ActiveLocally)
            {
                await volumes.ActivateAsync(originLv, new ActivateLvBody(options.Host), scope, ct).ConfigureAwait(false);
            }

            await volumes.SnapshotAsync(originLv, new SnapshotLvBody(snapLv, size), scope, [LlsNames.OwnerTag(caller.Owner)], ct).ConfigureAwait(false);
        }).ConfigureAwait(false);
        return await OneAsync(caller, body.Name, ct).ConfigureAwait(false);
    }

    /// <summary>Grows or shrinks a volume to an absolute size (shrinking needs it inactive everywhere, as for any LV).</summary>
    public async Task<LlsVolumeView> ResizeAsync(LlsCaller caller, string name, LlsResizeBody body, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(body);
        var lv = LlsNames.LvName(options.Host, caller.Container, name);
        var size = VolumeService.ParseSize(body.Size, allowRelative: true);
        var current = await FindAsync(caller, name, ct).ConfigureAwait(false);

        var grow = size.Resolve(current.Lv.SizeBytes) >= current.Lv.SizeBytes;
        await AsContainerAsync(caller, () => volumes.ResizeAsync(lv, new ResizeLvBody(body.Size), grow, Scope(caller), ct)).ConfigureAwait(false);
        return await OneAsync(caller, name, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Sets a volume's flags (tags in the shared metadata, so every host and every restart sees
    /// them), then brings its node in line: hidden or not mountable, none; read-only, a node and
    /// a rule for reading only. Restricting an open volume is refused: a descriptor opened
    /// before a rule is taken away keeps working.
    /// </summary>
    public async Task<LlsVolumeView> SetAsync(LlsCaller caller, string name, LlsFlagsBody body, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(body);
        var lv = LlsNames.LvName(options.Host, caller.Container, name);
        var wanted = new[] { (HiddenTag, body.Hidden), (ReadOnlyTag, body.ReadOnly), (NoMountTag, body.NoMount) }.Where(w => w.Item2 is not null).ToList();
        if (wanted.Count == 0)
        {
            throw new BadRequest($"setting {name} needs a flag: --hidden, --visible, --read-only, --read-write, --no-mount or --mount.");
        }

        var target = await FindAsync(caller, name, ct).ConfigureAwait(false);

        var add = wanted.Where(w => w.Item2 == true && !target.Lv.Tags.Contains(w.Item1)).Select(w => w.Item1).ToList();
        var remove = wanted.Where(w => w.Item2 == false && target.Lv.Tags.Contains(w.Item1)).Select(w => w.Item1).ToList();
        if (add.Count > 0 && target.Lv.DeviceOpen)
        {
            throw new OperationRefused(LvInUse.ErrorCode, $"{name} is open (mounted or in use) in {caller.Container}; unmount it before making it {string.Join(", ", add.Select(t => t["lls.".Length..]))}.");
        }

        if (add.Count + remove.Count > 0)
        {
            await AsContainerAsync(caller, () => volumes.TagAsync(lv, new TagLvBody(add, remove), Scope(caller), ct)).ConfigureAwait(false);
        }

        return (await ListAsync(caller, hidden: true, ct).ConfigureAwait(false)).FirstOrDefault(v => v.Name == name) ?? throw NotYours(name);
    }

    /// <summary>
    /// Deletes a volume: refused while it is open (mounted) or has snapshots; otherwise its node
    /// and device rule go first, then the LV (deactivated first unless it is a snapshot, which
    /// is removed where its origin is active).
    /// </summary>
    public async Task<LlsVolumeView> DeleteAsync(LlsCaller caller, string name, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var lv = LlsNames.LvName(options.Host, caller.Container, name);
        var mine = await MineAsync(caller, ct).ConfigureAwait(false);
        var target = mine.FirstOrDefault(v => v.Name == name) ?? throw NotYours(name);
        var snapshots = mine.Where(v => v.Lv.Origin == lv).Select(v => v.Name).ToList();
        if (snapshots.Count > 0)
        {
            throw new OperationRefused("has-snapshots", $"{name} has snapshots ({string.Join(", ", snapshots)}); delete them first (lls delete NAME).");
        }

        if (target.Lv.DeviceOpen)
        {
            throw new OperationRefused(LvInUse.ErrorCode, $"{name} is open (mounted or in use) in {caller.Container}; unmount it first, then delete it.");
        }

        var view = View(target, mine, new HashSet<string>(StringComparer.Ordinal));
        await RevokeAsync(caller.Container, name, ct).ConfigureAwait(false);
        var scope = Scope(caller);
        await AsContainerAsync(caller, async () =>
        {
            if (!target.Lv.IsSnapshot && target.Lv.Active)
            {
                await volumes.DeactivateAsync(lv, new DeactivateLvBody(null), scope, ct).ConfigureAwait(false);
            }

            await volumes.RemoveAsync(lv, null, scope, ct).ConfigureAwait(false);
        }).ConfigureAwait(false);
        return view with { Active = false, Device = null };
    }

    private LlsScope Scope(LlsCaller caller) => new(caller.Owner, Lls.QuotaOf(Lls.Find(caller.Container) ?? throw new Forbidden($"container {caller.Container} is not registered on {options.Host}")));

    private static LvNotFound NotYours(string name) => new(name, $"{name} is not one of your volumes; 'lls list' shows them.");

    private sealed record Mine(string Name, LogicalVolume Lv);

    private async Task<List<Mine>> MineAsync(LlsCaller caller, CancellationToken ct) =>
        MineOf(await lvm.ListLvsAsync(options.VolumeGroup, ct).ConfigureAwait(false), caller.Container);

    private List<Mine> MineOf(IReadOnlyList<LogicalVolume> lvs, string container)
    {
        var tag = LlsNames.OwnerTag(LlsNames.Owner(options.Host, container));
        return lvs.Where(l => l.Tags.Contains(tag) && LlsNames.VolumeOf(l.Name, options.Host, container) is not null)
            .Select(l => new Mine(LlsNames.VolumeOf(l.Name, options.Host, container)!, l)).OrderBy(m => m.Name, StringComparer.Ordinal).ToList();
    }

    /// <summary>
    /// Takes back what a container may no longer have: called with every reading of the VG, so a
    /// flag an operator sets (<c>vgmesh lv tag NAME --add lls.hidden</c>, on any host) or an LV
    /// gone or deactivated elsewhere removes the node within a reading, not at the container's
    /// next <c>lls list</c>. Nothing runs unless a given grant no longer matches.
    /// </summary>
    public async Task RestrictAsync(IReadOnlyList<LogicalVolume> lvs, CancellationToken ct)
    {
        foreach (var container in Lls.Containers.Select(c => c.Name))
        {
            var mine = MineOf(lvs, container);
            var wanted = Wanted(mine);
            if (grants.Of(container).Any(g => !wanted.TryGetValue(g.Key, out var w) || w != g.Value))
            {
                try
                {
                    await SyncNodesAsync(container, mine, ct).ConfigureAwait(false);
                }
                catch (OperationRefused e) when (e.Code == ContainerDevices.ContainerDown)
                {
                    // Stopped: its device rules went with its cgroup; the grants are brought in line when it lists again.
                }
            }
        }
    }

    private async Task<Mine> FindAsync(LlsCaller caller, string name, CancellationToken ct) =>
        (await MineAsync(caller, ct).ConfigureAwait(false)).FirstOrDefault(v => v.Name == name) ?? throw NotYours(name);

    private async Task<LlsVolumeView> OneAsync(LlsCaller caller, string name, CancellationToken ct) =>
        (await ListAsync(caller, ct).ConfigureAwait(false)).FirstOrDefault(v => v.Name == name) ?? throw NotYours(name);

    private LlsVolumeView View(Mine v, List<Mine> mine, HashSet<string> nodes)
    {
        var flags = new[] { HiddenTag, ReadOnlyTag, NoMountTag }.Where(v.Lv.Tags.Contains).Select(t => t["lls.".Length..]).ToList();
        var origin = v.Lv.Origin is { } o ? mine.FirstOrDefault(m => m.Lv.Name == o)?.Name : null;
        var container = LlsNames.OwnerOf(v.Lv.Tags)?.Split('/')[^1];
        DateTimeOffset? collectable = v.Lv.IsSnapshot && Lls.CollectUnusedAfterSeconds > 0 && container is not null && Lls.Find(container)?.Keeps(v.Name) == false
            ? use.CollectableAt(v.Lv.Name, TimeSpan.FromSeconds(Lls.CollectUnusedAfterSeconds)) : null;
        return new LlsVolumeView(v.Name, v.Lv.SizeBytes, origin, v.Lv.IsSnapshot, v.Lv.DataPercent, v.Lv.ActiveLocally,
            nodes.Contains(v.Name) ? $"{Lls.DeviceDir}/{v.Name}" : null, flags) { CollectableAt = collectable };
    }

    /// <summary>
    /// Gives the container a node and rule for each of its volumes active here that it may see
    /// and mount, at the LV's current numbers, and takes back every other rule it was given.
    /// Returns the names that have a node.
    /// </summary>
    private async Task<HashSet<string>> SyncNodesAsync(string container, List<Mine> mine, CancellationToken ct)
    {
        // One sync per container at a time: a list and the watch's restriction must not interleave
        // a delivery from an older reading with a revocation from a newer one.
        var gate = _syncGates.GetOrAdd(container, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            return await SyncNodesLockedAsync(container, mine, ct).ConfigureAwait(false);
        }
        finally
        {
            gate.Release();
        }
    }

    private async Task<HashSet<string>> SyncNodesLockedAsync(string container, List<Mine> mine, CancellationToken ct)
    {
        var wanted = Wanted(mine);
        var dir = await devices.DeviceDirAsync(container, ct).ConfigureAwait(false);
        var given = grants.Of(container);
        foreach (var (name, grant) in given.Where(g => !wanted.TryGetValue(g.Key, out var w) || w != g.Value))
        {
            await devices.RevokeAsync(container, dir, name, grant.Device, ct).ConfigureAwait(false);
            grants.Remove(container, name);
        }

        var present = ContainerDevices.Nodes(dir).ToHashSet(StringComparer.Ordinal);
        foreach (var (name, w) in wanted.Where(w => !present.Contains(w.Key) || given.GetValueOrDefault(w.Key) != w.Value))
        {
            grants.Set(container, name, w); // recorded before the rule exists: never a rule unrecorded
            await devices.DeliverAsync(container, dir, name, w.Device, w.ReadOnly, ct).ConfigureAwait(false);
        }

        // A node the agent did not make (or whose rule is gone) is removed too: nodes mirror rules.
        foreach (var stray in present.Where(p => !wanted.ContainsKey(p)))
        {
            await devices.RevokeAsync(container, dir, stray, null, ct).ConfigureAwait(false);
        }

        return [.. wanted.Keys];
    }

    /// <summary>The node each volume should have in its container: active here, neither hidden nor unmountable; read-only as flagged.</summary>
    private static Dictionary<string, Grant> Wanted(List<Mine> mine) =>
        mine.Where(v => v.Lv.ActiveLocally && v.Lv.KernelMajor is > 0 && v.Lv.KernelMinor is >= 0
                && !v.Lv.Tags.Contains(HiddenTag) && !v.Lv.Tags.Contains(NoMountTag))
            .ToDictionary(v => v.Name, v => new Grant(new DeviceNumber(v.Lv.KernelMajor!.Value, v.Lv.KernelMinor!.Value), v.Lv.Tags.Contains(ReadOnlyTag)), StringComparer.Ordinal);

    /// <summary>Takes a volume's node and device rule from its container (before the LV goes).</summary>
    public async Task RevokeAsync(string container, string name, CancellationToken ct)
    {
        var device = grants.Of(container).TryGetValue(name, out var g) ? g.Device : (DeviceNumber?)null;
        var dir = await devices.DeviceDirAsync(container, ct).ConfigureAwait(false);
        await devices.RevokeAsync(container, dir, name, device, ct).ConfigureAwait(false);
        grants.Remove(container, name);
    }

    /// <summary>Runs cluster calls for a container, with its LVs' full names in any refusal turned into its own names.</summary>
    private async Task AsContainerAsync(LlsCaller caller, Func<Task> call)
    {
        try
        {
            await call().ConfigureAwait(false);
        }
        catch (VolumeException e)
        {
            throw VolumeException.FromCode(e.Code, Own(caller, e.Message));
        }
        catch (LvmException e)
        {
            throw new OperationRefused(e.Code, Own(caller, e.Message));
        }
    }

    private string Own(LlsCaller caller, string message) => message
        .Replace($"{options.VolumeGroup}/{LlsNames.Prefix(options.Host, caller.Container)}", "", StringComparison.Ordinal)
        .Replace(LlsNames.Prefix(options.Host, caller.Container), "", StringComparison.Ordinal);
}
