using Microsoft.Extensions.Logging;
using VgMesh.Agent.Telemetry;
using VgMesh.Lvm;
using VgMesh.Lvm.DeviceMapper;

namespace VgMesh.Agent.Reconciling;

/// <summary>What the executor did with a list of actions.</summary>
/// <param name="Alerts">The planner's alerts, and those of actions that were refused.</param>
/// <param name="Acted">The actions carried out (device-mapper changed as they asked).</param>
public sealed record Execution(IReadOnlyList<string> Alerts, IReadOnlyList<ReconcileAction> Acted);

/// <summary>
/// Acts on the reconciler's decisions, one at a time, on this host only (no metadata writes):
/// every change this host's reconciling makes to its device-mapper state goes through here, the
/// ends of a handoff included. Expected refusals (a device in use) become alerts, not failures.
/// </summary>
public sealed partial class Executor(LvmDriver lvm, DmSetup dm, LvActivator activator, Deactivator deactivator, FencedSet fenced, ActivationGuard guard, AgentMetrics metrics, AgentOptions options, ILogger<Executor> logger)
{
    public async Task<Execution> ExecuteAsync(IReadOnlyList<ReconcileAction> actions, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(actions);
        var alerts = new List<string>();
        var acted = new List<ReconcileAction>();
        HashSet<string>? existing = null;
        foreach (var action in actions)
        {
            try
            {
                switch (action)
                {
                    case RemoveStaleDevice r:
                        // The pass read the LVs before device-mapper: an LV created on this host in
                        // between (a snapshot run here for the coordinator, a hand-run lvcreate) looks
                        // stale. LVM commits an LV before it creates its device, so a report read
                        // now names every LV whose device the pass saw.
                        existing ??= (await lvm.ListLvsAsync(options.VolumeGroup, ct).ConfigureAwait(false)).Select(l => l.Uuid.Replace("-", "", StringComparison.Ordinal)).ToHashSet(StringComparer.Ordinal);
                        if (r.LvUuid is { } uuid && existing.Contains(uuid))
                        {
                            continue;
                        }

                        await dm.RemoveAsync(r.Subject, ct).ConfigureAwait(false);
                        deactivator.SweepDanglingLinks(options.VolumeGroup);
                        break;
                    case Deactivate d:
                        await deactivator.DeactivateAsync(new LvRef(options.VolumeGroup, d.Subject), ct).ConfigureAwait(false);
                        if (d.Unfences)
                        {
                            fenced.Remove(d.Subject);
                        }

                        break;
                    case Refresh f:
                        if (fenced.Current.Contains(f.Subject))
                        {
                            continue; // fenced since the plan: a refresh would load its real table back
                        }

                        await lvm.RefreshAsync(new LvRef(options.VolumeGroup, f.Subject), ct).ConfigureAwait(false);
                        await WipeIfFencedMeanwhileAsync(f.Subject, ct).ConfigureAwait(false);
                        break;
                    case GrowTable g:
                        if (fenced.Current.Contains(g.Subject))
                        {
                            continue; // as for a refresh
                        }

                        var name = LvRef.DmNameOf(options.VolumeGroup, g.Subject);
                        await dm.ReloadAsync(name, g.Table, ct).ConfigureAwait(false);
                        await WipeIfFencedMeanwhileAsync(g.Subject, ct).ConfigureAwait(false);
                        break;
                    case Activate a:
                        if (fenced.Current.Contains(a.Subject))
                        {
                            if (await dm.ExistsAsync(LvRef.DmNameOf(options.VolumeGroup, a.Subject), ct).ConfigureAwait(false))
                            {
                                // Activating would leave the error table (LVM sees it active); only an unfence reloads it.
                                alerts.Add($"fenced: not activating {a.Subject}: it is fenced here; run 'vgmesh lv unfence {a.Subject}' here");
                                continue;
                            }

                            // Its device went (a crash, a reboot) and the error table with it: nothing
                            // is fenced any more. A record left behind would make the next fence round
                            // skip the device this activation makes (the torture run of 2026-12-06 saw
                            // a host, crashed and back, activate tx2 in a handoff and keep it live
                            // through its next downing).
                            fenced.Remove(a.Subject);
                        }

                        if (await guard.CheckAsync(a.Subject, a.Exclusive, ct).ConfigureAwait(false) is { } why)
                        {
                            alerts.Add($"handoff-waiting: not activating {a.Subject}: {why}");
                            continue;
                        }

                        await activator.ActivateAsync(new LvRef(options.VolumeGroup, a.Subject), a.Exclusive ? ActivationMode.Exclusive : ActivationMode.Shared, ct).ConfigureAwait(false);
                        break;
                    case Alert alert:
                        // Logged by the pass when it starts and when it ends, not on every pass.
                        alerts.Add($"{alert.Code}: {alert.Message}");
                        continue;
                }

                acted.Add(action);
                LogActed(logger, action.GetType().Name, action.Subject);
                metrics.Drift(KindOf(action), repaired: true);
            }
            catch (LvmNotFoundException e)
            {
                // Removed after the pass read it (an lvremove on another host, or by hand here): the
                // action has nothing left to act on, and the removal's own event or the next pass
                // deals with any device it left. Not an alert: nothing is wrong.
                LogGone(logger, action.GetType().Name, action.Subject, e.Message);
                if (action is Deactivate { Unfences: true })
                {
                    fenced.Remove(action.Subject); // nothing left to fence
                }
            }
            catch (LvmInUseException e)
            {
                metrics.Drift(KindOf(action), repaired: false);
                alerts.Add($"in-use: {action.GetType().Name} {action.Subject}: {e.Message}");
                LogAlert(logger, "in-use", e.Message);
            }
            catch (LvmException e)
            {
                metrics.Drift(KindOf(action), repaired: false);
                // Left for the next pass; the journal has the command and its stderr.
                alerts.Add($"failed: {action.GetType().Name} {action.Subject}: {e.Message}");
                LogFailed(logger, action.GetType().Name, action.Subject, e.Message);
            }
        }

        return new Execution(alerts, acted);
    }

    /// <summary>
    /// A fence round does not wait for a table load (it runs against its deadline): one that
    /// recorded the LV and wiped it while LVM or this executor was loading the real table may
    /// have been undone by the resume. The record comes before the wipe, so reading it after the
    /// resume catches every such round, and the wipe is loaded again.
    /// </summary>
    private async Task WipeIfFencedMeanwhileAsync(string lv, CancellationToken ct)
    {
        if (fenced.Current.Contains(lv))
        {
            await dm.WipeTableAsync(LvRef.DmNameOf(options.VolumeGroup, lv), ct).ConfigureAwait(false);
        }
    }

    private static string KindOf(ReconcileAction action) => action switch
    {
        RemoveStaleDevice => "stale-device",
        Deactivate => "deactivate",
        Refresh or GrowTable => "refresh",
        Activate => "activate",
        _ => "other",
    };

    [LoggerMessage(EventId = 3004, Level = LogLevel.Information, Message = "reconcile: {Action} {Subject} skipped: it was removed meanwhile ({Reason})")]
    private static partial void LogGone(ILogger logger, string action, string subject, string reason);

    [LoggerMessage(EventId = 3001, Level = LogLevel.Information, Message = "reconcile: {Action} {Subject}")]
    private static partial void LogActed(ILogger logger, string action, string subject);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Warning, Message = "reconcile alert {Code}: {Message}")]
    private static partial void LogAlert(ILogger logger, string code, string message);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Warning, Message = "reconcile: {Action} {Subject} failed: {Reason}")]
    private static partial void LogFailed(ILogger logger, string action, string subject, string reason);
}
