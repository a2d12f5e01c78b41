using System.Net;
using VgMesh.Lvm;

namespace VgMesh.Agent;

/// <summary>
/// vgmeshd's settings, from <c>/etc/vgmesh/vgmeshd.json</c> (section <c>VgMesh</c>) and
/// <c>VGMESH_VgMesh__*</c> environment variables. Immutable; validated at start with messages
/// that name the setting.
/// </summary>
public sealed record AgentOptions
{
    public string Cluster { get; init; } = "default";

    public string Host { get; init; } = Environment.MachineName;

    /// <summary>The shared volume group this cluster manages.</summary>
    public string VolumeGroup { get; init; } = "";

    /// <summary><c>ADDRESS:PORT</c> Akka.Remote binds on the cluster network (mutual TLS).</summary>
    public string ClusterListen { get; init; } = "127.0.0.1:4053";

    /// <summary>The seed hosts' <c>ADDRESS:PORT</c>, the same list on every host; none: a one-host install that joins itself.</summary>
    public string[] Seeds { get; init; } = [];

    /// <summary>This host's TLS files (<c>ca.crt</c>, <c>node.crt</c>, <c>node.key</c>) from <c>vgmeshd certificates</c>; required for a cluster.</summary>
    public string? CertificateDir { get; init; }

    /// <summary>
    /// A file holding the PostgreSQL connection string of the coordinator's journal and lease
    /// (a file, so the password is not in the configuration); none: a one-host install, with
    /// both in SQLite in <see cref="StateDir"/>.
    /// </summary>
    public string? JournalConnectionFile { get; init; }

    /// <summary>How many hosts the cluster is meant to have (two needs <c>SplitBrain</c> LeaseMajority).</summary>
    public int ExpectedHosts { get; init; } = 3;

    /// <summary><c>KeepMajority</c> (three hosts or more) or <c>LeaseMajority</c> (safe with two).</summary>
    public string SplitBrain { get; init; } = "KeepMajority";

    /// <summary>
    /// A host with no answer from the coordinator for this long fences the LVs it holds
    /// exclusively; the coordinator moves them after this plus <see cref="FenceGraceSeconds"/>.
    /// </summary>
    public int FenceAfterSeconds { get; init; } = 4;

    /// <summary>Prepended to every lvm/dmsetup command (e.g. <c>["nsenter", "-t", "1", "-m"]</c>).</summary>
    public string[] LvmCommandPrefix { get; init; } = [];

    public string? LvmSystemDir { get; init; }

    /// <summary>Root-only Unix socket for local operators and the CLI.</summary>
    public string UnixSocket { get; init; } = "/run/vgmesh/vgmeshd.sock";

    /// <summary><c>ADDRESS:PORT</c> for the TCP API (bearer token required); empty: none.</summary>
    public string? TcpListen { get; init; }

    /// <summary>File holding the cluster's bearer token; required with <see cref="TcpListen"/>.</summary>
    public string? TokenFile { get; init; }

    public string StateDir { get; init; } = "/var/lib/vgmesh";

    public int ReconcileIntervalSeconds { get; init; } = 10;

    /// <summary>
    /// How often the agent looks at this host's device-mapper devices (sysfs, no process) for an
    /// LV activated or deactivated without it, which starts a pass at once (its audit finds an LV
    /// active on two hosts); 0: only the periodic pass sees them.
    /// </summary>
    public int DeviceWatchMilliseconds { get; init; } = 500;

    /// <summary>
    /// How often each host reads the PV's metadata header (one direct sector read, no LVM
    /// process) to see a metadata change made outside the coordinator (an <c>lvextend</c> by hand)
    /// and refresh its tables at once; 0: only the periodic pass sees them.
    /// </summary>
    public int MetadataWatchMilliseconds { get; init; } = 200;

    /// <summary>
    /// After a holder's fence deadline, how much longer the coordinator waits before giving its
    /// LV to another host: room for the holder's own fencing to have landed.
    /// </summary>
    public int FenceGraceSeconds { get; init; } = 3;

    /// <summary>
    /// How long an agent may stay outside the cluster while another host holds the coordinator
    /// lease before it starts a new incarnation (exit 75; <see cref="JoinWatcher"/>). Longer than
    /// a normal rejoin after a downing (10-30 s in the lab), short enough that a host held out by
    /// stale remoting state is back within a couple of minutes.
    /// </summary>
    public int JoinGiveUpSeconds { get; init; } = 60;

    /// <summary>How long a change's answer waits for every live host to apply it.</summary>
    public int PropagationTimeoutSeconds { get; init; } = 30;

    /// <summary>
    /// How long completed operations, events and this host's journal entries are kept (7 days by
    /// default). It is also the idempotency window: an operation id is remembered this long.
    /// </summary>
    public int HistoryRetentionHours { get; init; } = 168;

    /// <summary>
    /// <c>ADDRESS:PORT</c> serving only <c>GET /metrics</c>, without a token (Prometheus on a
    /// management network, which still reaches a host cut off from the cluster network); empty: none.
    /// <c>/metrics</c> is also served on the API listeners, with their rules.
    /// </summary>
    public string? MetricsListen { get; init; }

    /// <summary>OTLP/HTTP endpoint of a collector (e.g. http://collector:4318); empty: no push.</summary>
    public string? OtlpEndpoint { get; init; }

    public int OtlpIntervalSeconds { get; init; } = 15;

    /// <summary>Containers on this host that manage their own volumes (LLS); none by default.</summary>
    public Lls.LlsOptions Lls { get; init; } = new();

    /// <summary>
    /// Storage fencing by SCSI-3 persistent reservations: the shared LUN's multipath device on
    /// this host (<c>/dev/mapper/mpatha</c>), the same LUN on every host. Each agent registers its
    /// key there, a reservation "write exclusive, registrants only" is kept, and the coordinator
    /// preempts the key of a host the cluster has put out before its LVs move. Every host of the
    /// cluster sets it, or none does; empty: off (self-fencing only).
    /// </summary>
    public string? ReservationDevice { get; init; }

    /// <summary>This host's reservation key (<c>0x</c> and hex digits); empty: derived from the cluster's and the host's names.</summary>
    public string? ReservationKey { get; init; }

    /// <summary>The key this host registers on the LUN.</summary>
    public VgMesh.Lvm.Scsi.ReservationKey OwnReservationKey =>
        string.IsNullOrEmpty(ReservationKey) ? VgMesh.Lvm.Scsi.ReservationKey.For(Cluster, Host) : VgMesh.Lvm.Scsi.ReservationKey.Parse(ReservationKey);

    /// <summary>The file that says this host has registered its key on the LUN: once it has, a key found missing means it was preempted.</summary>
    public string RegistrationFile => Path.Combine(StateDir, "registered-key");

    /// <summary>
    /// Where LVM reads this host's sanlock host id for an lvmlockd VG (default: lvmlocal.conf in
    /// <see cref="LvmSystemDir"/>, else /etc/lvm). The agent writes the id the cluster assigned.
    /// </summary>
    public string? LvmLocalConf { get; init; }

    public string LvmLocalConfPath => LvmLocalConf ?? Path.Combine(LvmSystemDir ?? "/etc/lvm", "lvmlocal.conf");

    /// <summary>The file where this host keeps the moment of its last contact with a coordinator.</summary>
    public string LastContactFile => Path.Combine(StateDir, "last-contact");

    /// <summary>Written once this host is Up in a cluster (before any contact with a coordinator is recorded): it has been a member.</summary>
    public string MemberMarkerFile => Path.Combine(StateDir, "member-before");

    /// <summary>
    /// The Akka cluster settings these options make. The first seed in the list forms a new
    /// cluster when no other seed answers; a host that has been a member before (it kept a last
    /// contact, or was Up in a cluster) lists itself last instead, so a restart while cut off
    /// cannot start a second cluster beside the first.
    /// </summary>
    public VgMesh.Cluster.Hosting.ClusterNodeOptions ToClusterNodeOptions()
    {
        var single = JournalConnectionFile is null;
        var listen = IPEndPoint.TryParse(ClusterListen, out var ep) ? ep : new IPEndPoint(IPAddress.Loopback, 4053);
        return new()
        {
            Host = Host,
            Hostname = listen.Address.ToString(),
            Port = listen.Port,
            SeedNodes = Seeds.Length == 0 ? [$"{listen.Address}:{listen.Port}"]
                : Seeds.Length > 1 && Seeds[0] == ClusterListen && (File.Exists(LastContactFile) || File.Exists(MemberMarkerFile)) ? [.. Seeds[1..], Seeds[0]] : Seeds,
            ExpectedHosts = single ? 1 : ExpectedHosts,
            JournalConnectionString = single ? $"Data Source={Path.Combine(StateDir, "cluster.db")}" : File.ReadAllText(JournalConnectionFile!).Trim(),
            JournalProvider = single ? "SQLite.MS" : "PostgreSQL.15",
            SplitBrain = Enum.TryParse<VgMesh.Cluster.Hosting.SplitBrainStrategy>(SplitBrain, ignoreCase: true, out var sb) ? sb : VgMesh.Cluster.Hosting.SplitBrainStrategy.KeepMajority,
            CertificateDirectory = CertificateDir,
            AllowPlaintextRemoting = single && CertificateDir is null,
            FenceAfter = TimeSpan.FromSeconds(FenceAfterSeconds),
            FenceGrace = TimeSpan.FromSeconds(FenceGraceSeconds),
            HistoryRetention = TimeSpan.FromHours(HistoryRetentionHours),
            StorageFencing = !string.IsNullOrEmpty(ReservationDevice),
        };
    }

    public IPEndPoint? MetricsEndPoint() => string.IsNullOrEmpty(MetricsListen) ? null : IPEndPoint.Parse(MetricsListen);

    public IPEndPoint? TcpEndPoint() => string.IsNullOrEmpty(TcpListen) ? null : IPEndPoint.Parse(TcpListen);

    public AgentOptions Validate()
    {
        void Fail(string what) => throw new ArgumentException($"vgmeshd settings: {what}");
        try
        {
            LvmNames.ValidateVg(VolumeGroup);
        }
        catch (InvalidLvmNameException e)
        {
            Fail($"VolumeGroup: {e.Message}");
        }

        if (!string.IsNullOrEmpty(TcpListen))
        {
            if (!IPEndPoint.TryParse(TcpListen, out var ep) || ep.Port == 0)
            {
                Fail($"TcpListen '{TcpListen}' must be ADDRESS:PORT, e.g. 10.0.0.11:7070");
            }

            if (string.IsNullOrEmpty(TokenFile) || !File.Exists(TokenFile))
            {
                Fail($"TcpListen needs TokenFile naming an existing file with the cluster's bearer token (got '{TokenFile}')");
            }
        }

        if (!string.IsNullOrEmpty(ReservationDevice) && (!Path.IsPathRooted(ReservationDevice) || ReservationDevice.AsSpan().ContainsAnyExceptInRange('!', '~')))
        {
            Fail($"ReservationDevice '{ReservationDevice}' must be the absolute path of the LUN's multipath device, e.g. /dev/mapper/mpatha");
        }

        if (!string.IsNullOrEmpty(ReservationKey))
        {
            try
            {
                _ = OwnReservationKey;
            }
            catch (FormatException e)
            {
                Fail($"ReservationKey: {e.Message}");
            }
        }

        if (!string.IsNullOrEmpty(MetricsListen) && (!IPEndPoint.TryParse(MetricsListen, out var m) || m.Port == 0 || m.Port == TcpEndPoint()?.Port))
        {
            Fail($"MetricsListen '{MetricsListen}' must be ADDRESS:PORT on a port of its own, e.g. 10.0.1.11:9470");
        }

        if (!string.IsNullOrEmpty(OtlpEndpoint) && !Uri.TryCreate(OtlpEndpoint, UriKind.Absolute, out _))
        {
            Fail($"OtlpEndpoint '{OtlpEndpoint}' is not a URL such as http://collector:4318");
        }

        if (ReconcileIntervalSeconds is < 1 or > 3600)
        {
            Fail($"ReconcileIntervalSeconds {ReconcileIntervalSeconds} is outside 1-3600");
        }

        if (DeviceWatchMilliseconds is not 0 and (< 100 or > 60_000))
        {
            Fail($"DeviceWatchMilliseconds {DeviceWatchMilliseconds} is outside 100-60000 (0 turns the watch off)");
        }

        if (MetadataWatchMilliseconds is not 0 and (< 50 or > 60_000))
        {
            Fail($"MetadataWatchMilliseconds {MetadataWatchMilliseconds} is outside 50-60000 (0 turns the watch off)");
        }

        if (HistoryRetentionHours is < 1 or > 87_600)
        {
            Fail($"HistoryRetentionHours {HistoryRetentionHours} is outside 1-87600 (one hour to ten years)");
        }

        if (!Path.IsPathRooted(StateDir) || !Path.IsPathRooted(UnixSocket))
        {
            Fail("StateDir and UnixSocket must be absolute paths");
        }

        if (!IPEndPoint.TryParse(ClusterListen, out var cl) || cl.Port == 0)
        {
            Fail($"ClusterListen '{ClusterListen}' must be ADDRESS:PORT on the cluster network, e.g. 10.0.0.11:4053");
        }

        if (JournalConnectionFile is { } jf && !File.Exists(jf))
        {
            Fail($"JournalConnectionFile '{jf}' does not exist: write the PostgreSQL connection string of the coordinator journal into it (mode 0600)");
        }

        if (!Enum.TryParse<VgMesh.Cluster.Hosting.SplitBrainStrategy>(SplitBrain, ignoreCase: true, out _))
        {
            Fail($"SplitBrain '{SplitBrain}' must be KeepMajority or LeaseMajority");
        }

        if (FenceAfterSeconds is < 3 or > 300 || FenceGraceSeconds is < 1 or > 300)
        {
            Fail($"FenceAfterSeconds {FenceAfterSeconds} must be 3-300 and FenceGraceSeconds {FenceGraceSeconds} 1-300");
        }

        if (JoinGiveUpSeconds is < 20 or > 3600)
        {
            Fail($"JoinGiveUpSeconds {JoinGiveUpSeconds} must be 20-3600: shorter restarts an agent that is still joining");
        }

        foreach (var problem in Lls.Problems())
        {
            Fail(problem);
        }

        try
        {
            ToClusterNodeOptions().Validate();
        }
        catch (ArgumentException e)
        {
            Fail(e.Message);
        }

        return this;
    }
}
