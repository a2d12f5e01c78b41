using VgMesh.Cluster.Coordinator;
using VgMesh.Lvm;
using VgMesh.Lvm.DeviceMapper;
using VgMesh.Lvm.Reports;

namespace VgMesh.Agent.Operations;

/// <summary>
/// Where an LV is active, as the coordinator may rely on it, and the hand-off of a command to
/// the one host where it must run (that host's kernel reloads the table, or does the
/// copy-on-write).
/// </summary>
public sealed class Placement(AgentCluster cluster, LvmDriver lvm, DmSetup dm, PeerClient peers, AgentOptions options, TimeProvider time)
{
    /// <summary>How long an operation waits for a live host's first report before it refuses.</summary>
    private static readonly TimeSpan FirstReportWait = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Hosts where the LV is active: the others as they reported it to this coordinator, this
    /// host as its device-mapper says now or as it announced. A live host that has not reported
    /// yet could have it active: the operation is refused until it has.
    /// </summary>
    public async Task<List<string>> ActiveOnAsync(OperationContext op, string lv, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(op);
        // A host that has just joined, or whose first pass failed, reports within seconds.
        var waited = time.GetTimestamp();
        string? silent;
        while ((silent = op.Hosts.NotReported(cluster.LiveHosts(), except: options.Host).FirstOrDefault()) is not null)
        {
            if (time.GetElapsedTime(waited) > FirstReportWait)
            {
                throw new HostDown(silent, $"{silent} is a member but has not reported what it has active; retry in a few seconds, or see its vgmeshd log.");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(200), time, ct).ConfigureAwait(false);
        }

        var hosts = op.Hosts.ActiveOn(lv, except: options.Host).ToList();
        if ((op.Hosts.Reports.TryGetValue(options.Host, out var mine) && mine.Active.Any(a => a.Lv == lv && a.Announced)) ||
            await dm.ExistsAsync(LvRef.DmNameOf(options.VolumeGroup, lv), ct).ConfigureAwait(false))
        {
            hosts.Add(options.Host);
        }

        return [.. hosts.Order(StringComparer.Ordinal)];
    }

    /// <summary>
    /// Where a thin volume's pool is active: wherever one of its volumes is, or the pool itself.
    /// LVM sends the pool its messages (a thin snapshot, a thin volume's removal) and activates
    /// it with any of its volumes, so those run there and nowhere else: a pool active on two
    /// hosts has two kernels writing its metadata.
    /// </summary>
    public async Task<List<string>> PoolHoldersAsync(OperationContext op, LogicalVolume thin, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(thin);
        var holders = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var lv in (await lvm.ListLvsAsync(thin.VgName, ct).ConfigureAwait(false)).Where(l => l.Name == thin.PoolLv || (l.PoolLv == thin.PoolLv && !l.IsHidden)))
        {
            holders.UnionWith(await ActiveOnAsync(op, lv.Name, ct).ConfigureAwait(false));
        }

        return [.. holders];
    }

    /// <summary>Runs <paramref name="kind"/> on <paramref name="host"/> under this coordinator's lease (checked here first, and by that host against the lease row).</summary>
    public async Task<StepResult> DelegateAsync(OperationRun run, string host, string kind, LvOperation args, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(run);
        var op = run.Context;
        if (!cluster.IsLive(host) || !op.Hosts.Reports.TryGetValue(host, out var report))
        {
            throw new HostDown(host, $"{args.Lv} is active on {host}, which is not a reachable member now; it fences itself there. Retry once 'vgmesh host list' shows it up, or claim the LV elsewhere.");
        }

        var step = new DelegatedStep(kind, args, options.Host, op.Lease.Generation, op.Request.Id, op.Lease.Owner);
        for (var attempt = 1; ; attempt++)
        {
            run.Permit.EnsureValid();
            try
            {
                return await peers.RunAsync(host, HostStatus.FromReport(report).ApiAddress, step, ct).ConfigureAwait(false);
            }
            catch (NotCoordinator) when (attempt < DelegationAttempts)
            {
                // The peer found this coordinator's lease too close to its end when it checked
                // (the lease row read, or the permit lapsed while the host read its LVs: seconds
                // on a loaded lab host). Every delegated step writes metadata in one LVM command,
                // and the permit is checked before that process starts, so nothing ran; asked
                // again, the peer reads the lease row again. If this coordinator lost the lease,
                // its own permit above refuses first.
            }
        }
    }

    /// <summary>How many times a step is sent to a peer that refused it for the lease's time left.</summary>
    private const int DelegationAttempts = 3;
}
