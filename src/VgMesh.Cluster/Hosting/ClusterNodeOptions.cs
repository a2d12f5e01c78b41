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

    /// <summary>The seed nodes as <c>host:port</c> on the cluster network (every host lists the same ones, in the same order).</summary>
    public IReadOnlyList<string> SeedNodes { get; init; } = [];

    /// <summary>The Akka addresses of the seeds, with the protocol the remoting speaks (TLS or not).</summary>
    public IReadOnlyList<string> SeedAddresses =>
        [.. SeedNodes.Select(s => $"{(CertificateDirectory is null ? "akka.tcp" : "akka.ssl.tcp")}://{ClusterHostingExtensions.SystemName}@{s}")];

    /// <summary>How many hosts the cluster is meant to have; two needs <see cref="SplitBrainStrategy.LeaseMajority"/>.</summary>
    public int ExpectedHosts { get; init; } = 3;

    /// <summary>The coordinator journal's database (PostgreSQL for a cluster, SQLite for one host).</summary>
    public required string JournalConnectionString { get; init; }

    /// <summary>
    /// The connection string the journal and the lease use: for PostgreSQL, the operator's with
    /// session settings in front (the operator's own <c>Options</c> come after, so they win).
    /// A host that crashes mid-transaction sends nothing more, and the server keeps its session,
    /// and every lock it holds, until TCP gives up on it (two hours by default): the 20-minute
    /// torture run of 2026-12-06 (seed 61206) saw a crashed host's journal read left idle in
    /// transaction hold the journal table, so the next coordinator's journal could not start
    /// (its schema check waits for an exclusive lock) and the cluster had no coordinator for
    /// minutes. An idle transaction is ended after 10 s (vgmesh's are milliseconds long), a
    /// statement waits for a lock at most 10 s (the journal retries its start), and the server
    /// probes a silent client after 10 s, so a dead host's sessions go within about half a minute.
    /// </summary>
    public string DatabaseConnectionString
    {
        get
        {
            if (IsSingleHost)
            {
                return JournalConnectionString;
            }

            var b = new Npgsql.NpgsqlConnectionStringBuilder(JournalConnectionString);
            b.Options = (PostgresSessionOptions + " " + b.Options).Trim();
            return b.ConnectionString;
        }
    }

    /// <summary>The session settings <see cref="DatabaseConnectionString"/> puts in front of the operator's.</summary>
    public const string PostgresSessionOptions =
        "-c idle_in_transaction_session_timeout=10s -c lock_timeout=10s -c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3";

    /// <summary>linq2db's provider name: <c>PostgreSQL.15</c> or <c>SQLite.MS</c>.</summary>
    public string JournalProvider { get; init; } = "PostgreSQL.15";

    /// <summary>A one-host install: its journal and lease in a local SQLite file, the cluster of this one node.</summary>
    public bool IsSingleHost => JournalProvider.StartsWith("SQLite", StringComparison.OrdinalIgnoreCase);

    public SplitBrainStrategy SplitBrain { get; init; } = SplitBrainStrategy.KeepMajority;

    /// <summary>How often members send each other heartbeats (Akka's failure-detector heartbeat-interval).</summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>How long heartbeats may be missing before a member is unreachable (Akka's acceptable-heartbeat-pause).</summary>
    public TimeSpan HeartbeatPause { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How long membership must stay unchanged before the split brain resolver decides (stable-after).</summary>
    public TimeSpan StableAfter { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>Extra wait after a member is downed before the singleton moves (down-removal-margin).</summary>
    public TimeSpan DownRemovalMargin { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a coordinator lease lives without a renewal.</summary>
    public TimeSpan LeaseTtl { get; init; } = TimeSpan.FromSeconds(4);

    public TimeSpan LeaseHeartbeat { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>The lease counts as lost (and the coordinator stops) once less than this is left.</summary>
    public TimeSpan LeaseSafetyMargin { get; init; } = TimeSpan.FromMilliseconds(1500);

    /// <summary>How often each host pings the coordinator: its sign of life, and how it learns it is cut off.</summary>
    public TimeSpan PingInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// A host that has had no answer from the coordinator for this long fences the LVs it holds
    /// exclusively (error tables). Counted from the send of its last answered ping.
    /// </summary>
    public TimeSpan FenceAfter { get; init; } = TimeSpan.FromSeconds(4);

    /// <summary>
    /// On top of <see cref="FenceAfter"/>, how long the coordinator waits after it last heard from
    /// a host before it gives that host's exclusive LVs to another: room for the fence to land.
    /// </summary>
    public TimeSpan FenceGrace { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>
    /// The LUN fences by SCSI-3 reservation (every agent registers its key): the coordinator
    /// preempts the registration of a host the cluster has put out before anything it held moves,
    /// instead of waiting <see cref="FenceAfter"/> plus <see cref="FenceGrace"/> for it to fence itself.
    /// </summary>
    public bool StorageFencing { get; init; }

    /// <summary>
    /// How long the coordinator keeps completed operations (a resubmitted id within it gets the
    /// recorded result) and its journal's rows (what a host that was away reads to catch up, and
    /// what <c>vgmesh events</c> shows); null keeps them for good. A host away longer than this
    /// catches up by a full reconcile pass instead of event by event.
    /// </summary>
    public TimeSpan? HistoryRetention { get; init; }

    /// <summary>How often the coordinator marks its journal and forgets what is older than <see cref="HistoryRetention"/> (an hour; tests shorten it).</summary>
    public TimeSpan HistoryEvery { get; init; } = TimeSpan.FromHours(1);

    /// <summary>How often a node that is oldest but not holding the lease tries again.</summary>
    public TimeSpan LeaseRetry { get; init; } = TimeSpan.FromMilliseconds(300);

    /// <summary>
    /// Where this host's TLS files are: the cluster CA's certificate (<c>ca.crt</c>) and this
    /// node's certificate and key (<c>node.crt</c>, <c>node.key</c>, mode 0600), made by
    /// <c>vgmeshd certificates</c>. Akka.Remote then speaks mutual TLS only, and accepts a
    /// peer only with a certificate from this CA.
    /// </summary>
    public string? CertificateDirectory { get; init; }

    /// <summary>Remoting without TLS: only for a one-host install bound to loopback.</summary>
    public bool AllowPlaintextRemoting { get; init; }

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

        foreach (var seed in SeedNodes)
        {
            var colon = seed.LastIndexOf(':');
            if (colon <= 0 || !int.TryParse(seed.AsSpan(colon + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var p) || p is < 1 or > 65535 || seed.Contains('/', StringComparison.Ordinal))
            {
                problems.Add($"seed node '{seed}' is not host:port (for example 10.0.0.1:4053)");
            }
        }

        if (SeedNodes.Count == 0)
        {
            problems.Add("SeedNodes is empty: list host:port of the seed hosts (this host's own address on a one-host install)");
        }

        if (!IsSingleHost && !JournalProvider.StartsWith("PostgreSQL", StringComparison.OrdinalIgnoreCase))
        {
            problems.Add($"JournalProvider '{JournalProvider}' is neither PostgreSQL (a cluster) nor SQLite (one host)");
        }

        if (IsSingleHost && ExpectedHosts != 1)
        {
            problems.Add($"a SQLite journal is on one host's disk, so the coordinator cannot move: set ExpectedHosts to 1, or use PostgreSQL for {ExpectedHosts} hosts");
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

        if (FenceAfter < PingInterval * 3)
        {
            problems.Add($"FenceAfter {FenceAfter} must be at least three PingIntervals ({PingInterval * 3}): one late answer must not fence a host");
        }

        if (CertificateDirectory is null && !AllowPlaintextRemoting)
        {
            problems.Add("CertificateDirectory is not set: the cluster's remoting runs only with mutual TLS; make the certificates with 'vgmeshd certificates' and point CertificateDirectory at this host's copy");
        }

        if (AllowPlaintextRemoting && CertificateDirectory is null && Hostname is not ("127.0.0.1" or "::1" or "localhost"))
        {
            problems.Add($"AllowPlaintextRemoting is for a one-host install on loopback, but Hostname is {Hostname}: set CertificateDirectory instead");
        }

        if (problems.Count > 0)
        {
            throw new ArgumentException("cluster settings refused: " + string.Join("; ", problems) + ".");
        }
    }
}
