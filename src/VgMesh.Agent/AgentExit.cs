using System.Runtime.InteropServices;
using Akka.Actor;

namespace VgMesh.Agent;

/// <summary>
/// How vgmeshd ends: 75 (EX_TEMPFAIL) when its ActorSystem ended without the agent being
/// stopped (the cluster downed it, or Akka.Remote shut it down), so its supervisor starts a new
/// agent that rejoins; 0 after a stop.
/// </summary>
public static class AgentExit
{
    public const int RestartCode = 75;

    private static volatile bool _restart;
    private static volatile bool _stopRequested;
    private static PosixSignalRegistration[]? _signals;

    public static bool Restart => _restart;

    /// <summary>
    /// Notes SIGTERM, SIGINT and SIGQUIT the moment they arrive, before anything acts on them.
    /// The host's own flag is not enough: Akka's CLR exit hook can run the coordinated shutdown
    /// before the host marks itself stopping, and a stop was then taken for a downing: the agent
    /// exited 75 and its supervisor started it again (seen in CI on 2026-12-05, every agent of
    /// the lab back a second after 'ops/lab agent stop all').
    /// </summary>
    public static void WatchStopSignals()
    {
        _signals ??= [.. new[] { PosixSignal.SIGTERM, PosixSignal.SIGINT, PosixSignal.SIGQUIT }
            .Select(s => PosixSignalRegistration.Create(s, _ => _stopRequested = true))];
    }

    /// <summary>
    /// Decided when the ActorSystem begins to end: a restart only when nobody asked the agent to
    /// stop and the reason is not the process ending.
    /// </summary>
    public static void Decide(CoordinatedShutdown.Reason? reason, bool hostStopping) =>
        _restart = IsRestart(reason, hostStopping || _stopRequested);

    public static bool IsRestart(CoordinatedShutdown.Reason? reason, bool stopping) =>
        !stopping && reason is not CoordinatedShutdown.ClrExitReason;
}
