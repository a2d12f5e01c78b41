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

    /// <summary>etcd client URLs; none means the single-host backend (SQLite in <see cref="StateDir"/>).</summary>
    public string[] EtcdEndpoints { get; init; } = [];

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

    public int SessionTtlSeconds { get; init; } = 10;

    public int ReconcileIntervalSeconds { get; init; } = 10;

    /// <summary>
    /// After a holder's session is gone, how much longer the coordinator waits before giving its
    /// LV to another host: room for the holder's own fencing to have landed.
    /// </summary>
    public int FenceGraceSeconds { get; init; } = 3;

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

        if (HistoryRetentionHours is < 1 or > 87_600)
        {
            Fail($"HistoryRetentionHours {HistoryRetentionHours} is outside 1-87600 (one hour to ten years)");
        }

        if (!Path.IsPathRooted(StateDir) || !Path.IsPathRooted(UnixSocket))
        {
            Fail("StateDir and UnixSocket must be absolute paths");
        }

        foreach (var e in EtcdEndpoints)
        {
            if (!Uri.TryCreate(e, UriKind.Absolute, out _))
            {
                Fail($"EtcdEndpoints: '{e}' is not a URL such as http://10.0.0.1:2379");
            }
        }

        return this;
    }
}
