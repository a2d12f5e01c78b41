namespace VgMesh.Agent;

/// <summary>How vgmeshd ends: 75 (EX_TEMPFAIL) when the cluster downed it, so its supervisor starts a new agent that rejoins.</summary>
public static class AgentExit
{
    public const int DownedCode = 75;

    private static volatile bool _downed;

    public static bool Downed
    {
        get => _downed;
        set => _downed = value;
    }
}
