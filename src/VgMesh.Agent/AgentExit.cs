namespace VgMesh.Agent;

/// <summary>
/// How vgmeshd ends: 75 (EX_TEMPFAIL) when its ActorSystem ended without the agent being
/// stopped (the cluster downed it, or Akka.Remote shut it down), so its supervisor starts a new
/// agent that rejoins.
/// </summary>
public static class AgentExit
{
    public const int RestartCode = 75;

    private static volatile bool _restart;

    public static bool Restart
    {
        get => _restart;
        set => _restart = value;
    }
}
