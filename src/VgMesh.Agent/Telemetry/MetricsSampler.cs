using Microsoft.Extensions.Hosting;

namespace VgMesh.Agent.Telemetry;

/// <summary>
/// Reads what the gauges need from the coordinator every few seconds (queue depth, whether one
/// runs and where, this host's progress, its contact), so a scrape is answered from memory and
/// never waits on the cluster.
/// </summary>
public sealed class MetricsSampler(AgentCluster cluster, MajorityWatch majority, AgentMetrics metrics, StorageState storage, AgentOptions options, TimeProvider time) : BackgroundService
{
    private static readonly TimeSpan Period = TimeSpan.FromSeconds(2);

    /// <summary>The LUN's paths: one status ioctl on its multipath device (no process), where storage fencing names one.</summary>
    private void SamplePaths()
    {
        if (options.ReservationDevice is not { } device || !device.StartsWith("/dev/mapper/", StringComparison.Ordinal))
        {
            return;
        }

        try
        {
            if (Lvm.DeviceMapper.DmIoctl.Read(device["/dev/mapper/".Length..]) is [{ Status: Lvm.DeviceMapper.MultipathStatus m }, ..])
            {
                metrics.StoragePaths(m.Paths.Count(p => p.Active), m.Paths.Count(p => !p.Active));
                storage.Paths(m);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or Lvm.DeviceMapper.DmIoctlException or Lvm.LvmException)
        {
            // A device gone or unreadable this round: the gauge and the reported paths keep their
            // last value (the registration keeper logs a LUN it cannot read, and reports it).
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var fenceAfter = TimeSpan.FromSeconds(options.FenceAfterSeconds);
        while (!stoppingToken.IsCancellationRequested)
        {
            var sinceContact = cluster.Contact.SinceContact;
            var cutOff = sinceContact > fenceAfter && !majority.InMajority;
            try
            {
                var view = await cluster.StatusAsync(stoppingToken).ConfigureAwait(false);
                // Leader: the coordinator that answered runs here (its lease is this host's).
                metrics.LeadershipChanged(view.Host == options.Host || cluster.HeldLease() is not null ? LeadershipState.Leader : cutOff ? LeadershipState.Fenced : LeadershipState.Follower);
                var own = view.Applied.FirstOrDefault(a => a.Host == options.Host);
                var progress = own is null ? null : new HostProgress(own.Host, own.Sequence, own.At, view.LastEventSequence - own.Sequence,
                    own.Sequence >= view.LastEventSequence ? TimeSpan.Zero : time.GetUtcNow() - own.At);
                metrics.ObserveCluster(view.Pending, 1, progress, sinceContact, fenceAfter);
                metrics.ObserveCoordinator(view.Generation);
            }
            catch (Operations.VolumeException) when (!stoppingToken.IsCancellationRequested)
            {
                // No coordinator answered: what this host knows of the cluster is stale; its contact still tells.
                metrics.LeadershipChanged(cutOff ? LeadershipState.Fenced : LeadershipState.Follower);
                metrics.ObserveCluster(0, 0, null, sinceContact, fenceAfter);
            }

            // The engine as this host sees it, whether or not a coordinator answered.
            var lease = cluster.HeldLease();
            metrics.ObserveEngine(cluster.CoordinatorLeaseState(), lease?.Generation, lease?.TimeLeft ?? TimeSpan.Zero,
                cluster.Members().CountBy(m => m.Reachable ? m.Status.ToString().ToLowerInvariant() : "unreachable").ToDictionary(StringComparer.Ordinal));
            SamplePaths();
            await Task.Delay(Period, time, stoppingToken).ConfigureAwait(false);
        }
    }
}
