using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using VgMesh.Agent.Telemetry;
using VgMesh.Client;
using VgMesh.Cluster.Coordinator;
using VgMesh.Lvm;

namespace VgMesh.Agent.Lockd;

/// <summary>This host's part in an lvmlockd VG as last seen (null while the VG is not known to use lvmlockd); reported with the host's status.</summary>
public sealed class LockdState(AgentMetrics metrics)
{
    private LockdView? _view;

    public LockdView? Current => Volatile.Read(ref _view);

    public void Set(LockdView view)
    {
        Volatile.Write(ref _view, view);
        metrics.Lockd(view);
    }
}

/// <summary>
/// Where the VG uses LVM's own locks (lvmlockd with sanlock or dlm), joins this host to its
/// lockspace: asks the cluster for this host's sanlock host id (the coordinator records one per
/// host, never the same twice), writes it to lvmlocal.conf, runs <c>vgchange --lock-start</c>, and
/// then reads what lvmlockd holds here every few seconds for 'vgmesh host show' and the metrics.
/// A host id that is another host's is refused before LVM is touched: two hosts with one id take
/// each other's sanlock leases. At a clean stop the lockspace is left (<c>--lock-stop</c>) when no
/// LV of the VG is active here; with LVs active it stays, as their locks must.
/// It also reads lvmlockd's log for lock requests it refused: one refused to a command this agent
/// did not run (an LVM command by hand, a script) is logged, counted and shown with the host, the
/// only trace of it outside the terminal that ran it.
/// </summary>
public sealed partial class LockdService(LvmDriver lvm, SanlockLeases sanlock, CoordinatorClient coordinator, LockdState state, AgentMetrics metrics, AgentOptions options, TimeProvider time, ILogger<LockdService> logger) : BackgroundService
{
    private static readonly TimeSpan ReadEvery = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan RetryEvery = TimeSpan.FromSeconds(5);

    /// <summary>How many refusals of commands run by hand the host's view keeps.</summary>
    private const int RefusalsShown = 10;

    private string? _lockType;
    private bool _started;

    // lvmlockd's log is a ring read whole each time: a refusal is reported once, and only if it
    // came after this agent started (an earlier agent reported those).
    private DateTimeOffset _refusalsFrom;
    private readonly HashSet<(DateTimeOffset At, int Pid, string Lock, string? Lv)> _reported = [];
    private IReadOnlyList<LockRefusalView> _refused = [];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _lockType = await LockTypeAsync(stoppingToken).ConfigureAwait(false);
        if (_lockType is null)
        {
            return;
        }

        LogLockdVg(logger, options.VolumeGroup, _lockType);
        _refusalsFrom = time.GetUtcNow().AddSeconds(-1);
        foreach (var by in new[] { "hand", "vgmesh" })
        {
            metrics.LockRefused(by, "lv", 0);
        }

        var id = await HostIdAsync(stoppingToken).ConfigureAwait(false);
        await StartAsync(id, stoppingToken).ConfigureAwait(false);
        while (!stoppingToken.IsCancellationRequested)
        {
            await ReadRefusalsAsync(stoppingToken).ConfigureAwait(false);
            await ReadAsync(id, stoppingToken).ConfigureAwait(false);
            await Task.Delay(ReadEvery, time, stoppingToken).ConfigureAwait(false);
        }
    }

    /// <summary>The VG's lock type when it uses lvmlockd, else null; asked again until LVM answers.</summary>
    private async Task<string?> LockTypeAsync(CancellationToken ct)
    {
        while (true)
        {
            try
            {
                var vg = await lvm.GetVgAsync(options.VolumeGroup, ct).ConfigureAwait(false);
                return vg.UsesLvmLockd ? vg.LockType : null;
            }
            catch (LvmException e)
            {
                LogVgUnreadable(logger, options.VolumeGroup, e.Message);
            }

            await Task.Delay(RetryEvery, time, ct).ConfigureAwait(false);
        }
    }

    /// <summary>The host id the cluster gives this host; asked until a coordinator answers, and again after a refusal (the operator may fix lvmlocal.conf meanwhile).</summary>
    private async Task<int> HostIdAsync(CancellationToken ct)
    {
        var path = options.LvmLocalConfPath;
        Set(null, "assigning", null, [], [], null);
        while (true)
        {
            var text = File.Exists(path) ? await File.ReadAllTextAsync(path, ct).ConfigureAwait(false) : null;
            var proposed = LvmLocalConf.HostId(text);
            var answer = await coordinator.AssignLockHostIdAsync(options.Host, proposed, AskTimeout, ct).ConfigureAwait(false);
            if (answer is { HostId: { } id })
            {
                if (proposed != id)
                {
                    // Written whole and renamed: LVM never reads half a file.
                    var tmp = path + ".vgmesh-tmp";
                    await File.WriteAllTextAsync(tmp, LvmLocalConf.WithHostId(text, id), ct).ConfigureAwait(false);
                    File.Move(tmp, path, overwrite: true);
                }

                LogHostId(logger, id, path, proposed == id ? "kept" : "written");
                return id;
            }

            if (answer is { Refusal: { } refusal })
            {
                LogRefused(logger, refusal);
                Set(null, "refused", null, [], [], refusal);
            }

            // A refusal waits for the operator; no answer, or "ask again", for the cluster.
            await Task.Delay(answer?.Refusal is null ? RetryEvery : TimeSpan.FromSeconds(30), time, ct).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// <c>vgchange --lock-start</c>, again until it succeeds: the first one on a host fails now and
    /// then (lab-recipe: "invalid parameters for sanlock" while the lvmlock LV's node is not there yet).
    /// </summary>
    private async Task StartAsync(int id, CancellationToken ct)
    {
        Set(id, "starting", null, [], [], null);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var began = time.GetTimestamp();
                await lvm.LockStartAsync(options.VolumeGroup, ct).ConfigureAwait(false);
                _started = true;
                var took = time.GetElapsedTime(began).TotalSeconds;
                LogStarted(logger, options.VolumeGroup, id, took);
                return;
            }
            catch (LvmException e)
            {
                var why = e.Result?.StderrSummary ?? e.Message;
                LogStartFailed(logger, options.VolumeGroup, attempt, why);
                Set(id, attempt < 3 ? "starting" : "failed", null, [], [], $"vgchange --lock-start {options.VolumeGroup} failed (attempt {attempt}, trying again in {(attempt < 3 ? 2 : 30)} s): {why}");
            }

            await Task.Delay(TimeSpan.FromSeconds(attempt < 3 ? 2 : 30), time, ct).ConfigureAwait(false);
        }
    }

    private async Task ReadAsync(int id, CancellationToken ct)
    {
        try
        {
            var info = (await lvm.LockdInfoAsync(ct).ConfigureAwait(false)).Vg(options.VolumeGroup);
            var names = info is { LvLocks.Length: > 0 }
                ? (await lvm.ListLvsAsync(options.VolumeGroup, ct).ConfigureAwait(false)).ToDictionary(l => l.Uuid, l => l.Name, StringComparer.Ordinal)
                : [];
            string Name(LvLock l) => names.GetValueOrDefault(l.LvUuid, l.LvUuid);
            var locks = info?.LvLocks ?? [];
            var renewal = info?.Lockspace is { } ls ? await RenewalAsync(ls, ct).ConfigureAwait(false) : null;
            var error = info?.Lockspace is null ? $"the lockspace of {options.VolumeGroup} is not started on {options.Host}: LVM refuses metadata changes and activations here"
                : renewal is { } rn && (rn.RenewFail || rn.Result < 0) ? $"sanlock fails to renew this host's lease in {info.Lockspace} (last result {rn.Result}): its LV leases are lost past the limit" : null;
            Set(id, info?.Lockspace is null ? "stopped" : "started", info?.Lockspace,
                [.. locks.Where(l => l.Mode == "ex").Select(Name).Order(StringComparer.Ordinal)],
                [.. locks.Where(l => l.Mode == "sh").Select(Name).Order(StringComparer.Ordinal)],
                error, renewal?.Ago, renewal?.Result);
        }
        catch (LvmException e)
        {
            Set(id, state.Current?.State ?? "unknown", state.Current?.Lockspace, state.Current?.Exclusive ?? [], state.Current?.Shared ?? [], $"lvmlockctl --info failed: {e.Message}", state.Current?.RenewedSecondsAgo, state.Current?.RenewalResult);
        }
    }

    /// <summary>New refusals in lvmlockd's log: counted by who ran the command; those run by hand (or by whoever, when the agent cannot tell) logged and kept for the host's view.</summary>
    private async Task ReadRefusalsAsync(CancellationToken ct)
    {
        IReadOnlyList<(LockRefusal Refusal, bool? Ours)> all;
        try
        {
            all = await lvm.LockRefusalsAsync(ct).ConfigureAwait(false);
        }
        catch (LvmException e)
        {
            LogDumpFailed(logger, e.Message);
            return;
        }

        var shown = _refused;
        foreach (var (r, ours) in all)
        {
            // A read's shared VG or global lock refused (an lvs before the lockspace started)
            // changed nothing and would have changed nothing: not reported.
            if (r.At < _refusalsFrom || (r.Lock != "lv" && r.Mode != "ex") || !_reported.Add((r.At, r.Pid, r.Lock, r.Lv)))
            {
                continue;
            }

            var by = ours switch { true => "vgmesh", false => "hand", null => "unknown" };
            metrics.LockRefused(by, r.Lock);
            if (ours == true)
            {
                continue;
            }

            var what = r.Lv is { } lv ? $"LV {options.VolumeGroup}/{lv}" : r.Lock == "vg" ? $"VG {options.VolumeGroup}" : "the global lock";
            var command = $"{r.Command}[{r.Pid}]";
            LogHandRefused(logger, command, ours is null ? "vgmesh cannot tell who ran it: its LVM commands run behind LvmCommandPrefix" : "not run by vgmesh", r.Mode, what, r.Reason);
            shown = [.. shown.Append(new LockRefusalView(r.At, command, r.Lock, r.Lv, r.Mode, r.Reason, by)).TakeLast(RefusalsShown)];
        }

        _refused = shown;
        // Forgotten once older than anything a ring of 1 MiB still holds on a busy host.
        _reported.RemoveWhere(k => k.At < time.GetUtcNow().AddHours(-1));
    }

    private void Set(int? id, string what, string? lockspace, IReadOnlyList<string> exclusive, IReadOnlyList<string> shared, string? error, double? renewedAgo = null, int? renewalResult = null) =>
        state.Set(new LockdView(_lockType!, id, what, lockspace, exclusive, shared, error, time.GetUtcNow(), renewedAgo, renewalResult, _refused.Count == 0 ? null : _refused));

    /// <summary>
    /// sanlock's last renewal of this host's lease in the lockspace: how long ago (on sanlock's own
    /// clock, read in the same answer) and its result; null when sanlock does not say. A failure
    /// to read it is not the lockspace's failure.
    /// </summary>
    private async Task<(double? Ago, int? Result, bool RenewFail)?> RenewalAsync(string lockspace, CancellationToken ct)
    {
        try
        {
            if ((await sanlock.RenewalsAsync(ct).ConfigureAwait(false)).FirstOrDefault(r => r.Lockspace == lockspace) is not { } r)
            {
                return null;
            }

            return (r.SecondsSinceRenewal, r.LastResult, r.RenewFail);
        }
        catch (LvmException)
        {
            return null;
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        if (!_started)
        {
            return;
        }

        try
        {
            using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            bounded.CancelAfter(TimeSpan.FromSeconds(30));
            var active = (await lvm.ListLvsAsync(options.VolumeGroup, bounded.Token).ConfigureAwait(false)).Where(l => l.Active && !l.IsHidden).Select(l => l.Name).ToList();
            if (active.Count > 0)
            {
                // Their locks must stay: a VM may be writing. sanlock keeps renewing without us.
                var names = string.Join(", ", active);
                LogLeftStarted(logger, options.VolumeGroup, names);
                return;
            }

            await lvm.LockStopAsync(options.VolumeGroup, bounded.Token).ConfigureAwait(false);
            LogStopped(logger, options.VolumeGroup);
        }
        catch (Exception e) when (e is LvmException or OperationCanceledException)
        {
            LogStopFailed(logger, options.VolumeGroup, e.Message);
        }
    }

    [LoggerMessage(EventId = 3700, Level = LogLevel.Information, Message = "volume group {Vg} uses lvmlockd ({LockType}): LVM's locks enforce exclusive activation as well; joining its lockspace")]
    private static partial void LogLockdVg(ILogger logger, string vg, string lockType);

    [LoggerMessage(EventId = 3701, Level = LogLevel.Warning, Message = "volume group {Vg} cannot be read yet ({Reason}); its lock type decides lvmlockd mode, trying again")]
    private static partial void LogVgUnreadable(ILogger logger, string vg, string reason);

    [LoggerMessage(EventId = 3702, Level = LogLevel.Information, Message = "sanlock host id {HostId} from the cluster ({Path}: {What})")]
    private static partial void LogHostId(ILogger logger, int hostId, string path, string what);

    [LoggerMessage(EventId = 3703, Level = LogLevel.Error, Message = "the cluster refused this host's sanlock host id; the lockspace is not started: {Reason}")]
    private static partial void LogRefused(ILogger logger, string reason);

    [LoggerMessage(EventId = 3704, Level = LogLevel.Information, Message = "lockspace of {Vg} started (host id {HostId}) in {Seconds:0.0} s")]
    private static partial void LogStarted(ILogger logger, string vg, int hostId, double seconds);

    [LoggerMessage(EventId = 3705, Level = LogLevel.Warning, Message = "vgchange --lock-start {Vg} failed (attempt {Attempt}): {Reason}")]
    private static partial void LogStartFailed(ILogger logger, string vg, int attempt, string reason);

    [LoggerMessage(EventId = 3706, Level = LogLevel.Information, Message = "lockspace of {Vg} left running at stop: {Lvs} active here keep their locks")]
    private static partial void LogLeftStarted(ILogger logger, string vg, string lvs);

    [LoggerMessage(EventId = 3707, Level = LogLevel.Information, Message = "lockspace of {Vg} stopped (no LV of it active here)")]
    private static partial void LogStopped(ILogger logger, string vg);

    [LoggerMessage(EventId = 3709, Level = LogLevel.Warning, Message = "lvmlockd refused {Command} ({Who}) the {Mode} lock of {What}: {Reason}; nothing of that command was done. Change the VG through vgmesh, which runs each change where LVM's lock allows it")]
    private static partial void LogHandRefused(ILogger logger, string command, string who, string mode, string what, string reason);

    [LoggerMessage(EventId = 3710, Level = LogLevel.Debug, Message = "lvmlockd's log not read (lvmlockctl --dump): {Reason}")]
    private static partial void LogDumpFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 3708, Level = LogLevel.Warning, Message = "lockspace of {Vg} not stopped: {Reason}")]
    private static partial void LogStopFailed(ILogger logger, string vg, string reason);
}
