namespace VgMesh.Cluster.Hosting;

public enum SplitBrainStrategy
{
    /// <summary>The side with more than half the members stays; the other downs itself. Needs three or more hosts.</summary>
    KeepMajority,

    /// <summary>The side that takes the coordinator lease stays: safe with two hosts, at the cost of a database round trip on each split.</summary>
    LeaseMajority,
}

/// <summary>
/// One agent's place in the Akka cluster: its address, the seeds, the journal database and the
/// timings that decide how fast a vanished host is downed and its coordinator replaced.
/// Immutable; <see cref="Validate"/> says what is wrong in words an operator can act on.
/// </summary>
public sealed record ClusterNodeOptions
{
    /// <summary>This host's name in the cluster: its journal entries, claims and metrics use it.</summary>
    public required string Host { get; init; }

    /// <summary>The address Akka.Remote binds and is reached at on the cluster network.</summary>
    public required string Hostname { get; init; }

    public int Port { get; init; } = 4053;

    /// <summary>Akka addresses of the seed nodes (<c>akka.tcp://vgmesh@10.0.0.1:4053</c>); this node's own first on the first host.</summary>
    public IReadOnlyList<string> SeedNodes { get; init; } = [];

    /// <summary>How many hosts the cluster is meant to have; two needs <see cref="SplitBrainStrategy.LeaseMajority"/>.</summary>
    public int ExpectedHosts { get; init; } = 3;

    /// <summary>The coordinator journal's database (PostgreSQL for a cluster, SQLite for one host).</summary>
    public required string JournalConnectionString { get; init; }

    /// <summary>linq2db's provider name: <c>PostgreSQL.15</c> or <c>SQLite.MS</c>.</summary>
    public string JournalProvider { get; init; } = "PostgreSQL.15";

    public SplitBrainStrategy SplitBrain { get; init; } = SplitBrainStrategy.KeepMajority;

    /// <summary>How long heartbeats may be missing before a member is unreachable (Akka's acceptable-heartbeat-pause).</summary>
    public TimeSpan HeartbeatPause { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How long membership must stay unchanged before the split brain resolver decides (stable-after).</summary>
    public TimeSpan StableAfter { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Extra wait after a member is downed before the singleton moves (down-removal-margin).</summary>
    public TimeSpan DownRemovalMargin { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How long a coordinator lease lives without a renewal.</summary>
    public TimeSpan LeaseTtl { get; init; } = TimeSpan.FromSeconds(6);

    public TimeSpan LeaseHeartbeat { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The lease counts as lost (and the coordinator stops) once less than this is left.</summary>
    public TimeSpan LeaseSafetyMargin { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How often a node that is oldest but not holding the lease tries again.</summary>
    public TimeSpan LeaseRetry { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Throws with what to change when the settings cannot be run safely.</summary>
    public void Validate()
    {
        var problems = new List<string>();
        if (string.IsNullOrWhiteSpace(Host))
        {
            problems.Add("Host is empty: set it to this host's name");
        }

        if (Port is < 0 or > 65535)
        {
            problems.Add($"Port {Port} is not a TCP port");
        }

        if (ExpectedHosts == 2 && SplitBrain == SplitBrainStrategy.KeepMajority)
        {
            problems.Add("a two-host cluster cannot keep a majority when one host is cut off (both sides are half, so both would down themselves or, worse, both stay); set SplitBrain to LeaseMajority, which lets the side that takes the lease stay");
        }

        if (ExpectedHosts < 1)
        {
            problems.Add($"ExpectedHosts {ExpectedHosts} must be at least 1");
        }

        if (string.IsNullOrWhiteSpace(JournalConnectionString))
        {
            problems.Add("JournalConnectionString is empty: set the coordinator journal's database");
        }

        if (LeaseHeartbeat * 2 >= LeaseTtl)
        {
            problems.Add($"LeaseHeartbeat {LeaseHeartbeat} must be under half of LeaseTtl {LeaseTtl}");
        }

        if (LeaseSafetyMargin >= LeaseTtl - LeaseHeartbeat)
        {
            problems.Add($"LeaseSafetyMargin {LeaseSafetyMargin} must be under LeaseTtl minus LeaseHeartbeat ({LeaseTtl - LeaseHeartbeat})");
        }

        if (problems.Count > 0)
        {
            throw new ArgumentException("cluster settings refused: " + string.Join("; ", problems) + ".");
        }
    }
}
