using System.Text.RegularExpressions;

namespace VgMesh.Agent.Lls;

/// <summary>
/// LLS on this host (section <c>VgMesh:Lls</c>): the containers that may manage their own
/// volumes, where their sockets live, and their quotas. No containers: LLS is off.
/// </summary>
public sealed record LlsOptions
{
    /// <summary>The registered containers; a caller in any other is refused.</summary>
    public LlsContainer[] Containers { get; init; } = [];

    /// <summary>Each container's directory <c>ROOT/NAME</c> (bind-mounted at <c>/lls</c> in it) holds <c>lls.sock</c> and the <c>lls</c> client.</summary>
    public string SocketRoot { get; init; } = "/run/lls";

    /// <summary>The static <c>lls</c> client copied into each container's directory at start; missing: not copied.</summary>
    public string ClientPath { get; init; } = "/usr/lib/vgmesh/lls";

    /// <summary>Where a container finds its volumes' device nodes.</summary>
    public string DeviceDir { get; init; } = "/dev/lls";

    /// <summary>A container's snapshot used this much (percent of its copy-on-write space) is grown.</summary>
    public int GrowThresholdPercent { get; init; } = 80;

    /// <summary>How much a snapshot grows each time, in percent of its size (at least one extent).</summary>
    public int GrowStepPercent { get; init; } = 50;

    /// <summary>How often the host where LLS snapshots are active reads their usage (only while there are some).</summary>
    public int WatchIntervalMilliseconds { get; init; } = 250;

    /// <summary>Who is told of every growth and of every snapshot that cannot grow; none: nobody.</summary>
    public string? AdminMail { get; init; }

    /// <summary>
    /// The mail command, given the message (with its To and Subject headers) on stdin; empty:
    /// <see cref="DefaultMailCommand"/> (empty by default: the configuration binder appends a
    /// configured array to a default one).
    /// </summary>
    public string[] MailCommand { get; init; } = [];

    public static IReadOnlyList<string> DefaultMailCommand { get; } = ["/usr/sbin/sendmail", "-t"];

    public IReadOnlyList<string> MailArgv => MailCommand.Length > 0 ? MailCommand : DefaultMailCommand;

    /// <summary>
    /// A snapshot that would be full within this many seconds at the rate it is filling is grown
    /// at once, whatever its usage: at a high write rate the threshold alone leaves too little
    /// room for the time an extend takes.
    /// </summary>
    public int GrowAheadSeconds { get; init; } = 5;

    /// <summary>
    /// A container's snapshot whose device has not been open for this long is removed (the
    /// seed's "an unmounted snapshot may be deleted at any time"), unless the container keeps it
    /// (<see cref="LlsContainer.Keep"/>); 0: never. One day by default.
    /// </summary>
    public int CollectUnusedAfterSeconds { get; init; } = 86_400;

    /// <summary>Quotas of every container without its own.</summary>
    public LlsQuota Quota { get; init; } = new();

    public LlsContainer? Find(string name) => Containers.FirstOrDefault(c => c.Name == name);

    public string DirectoryOf(string container) => Path.Combine(SocketRoot, container);

    public string SocketOf(string container) => Path.Combine(DirectoryOf(container), "lls.sock");

    public LlsQuota QuotaOf(LlsContainer container) => container.Quota ?? Quota;

    /// <summary>The reasons these settings are unusable, each naming the setting.</summary>
    public IEnumerable<string> Problems()
    {
        if (!Path.IsPathRooted(SocketRoot) || !Path.IsPathRooted(DeviceDir))
        {
            yield return $"Lls.SocketRoot '{SocketRoot}' and Lls.DeviceDir '{DeviceDir}' must be absolute paths";
        }

        if (GrowThresholdPercent is < 1 or > 99 || GrowStepPercent is < 1 or > 1000 || WatchIntervalMilliseconds is < 50 or > 60_000)
        {
            yield return $"Lls.GrowThresholdPercent {GrowThresholdPercent} must be 1-99, Lls.GrowStepPercent {GrowStepPercent} 1-1000 and Lls.WatchIntervalMilliseconds {WatchIntervalMilliseconds} 50-60000";
        }

        if (CollectUnusedAfterSeconds < 0)
        {
            yield return $"Lls.CollectUnusedAfterSeconds {CollectUnusedAfterSeconds} must be 0 (never) or more";
        }

        if (GrowAheadSeconds is < 0 or > 3600)
        {
            yield return $"Lls.GrowAheadSeconds {GrowAheadSeconds} must be 0-3600 (0: by the threshold only)";
        }

        foreach (var c in Containers)
        {
            if (!LlsNames.IsContainerName(c.Name))
            {
                yield return $"Lls.Containers: '{c.Name}' is not a container name vgmesh accepts (1-32 of A-Z a-z 0-9 _ -, not starting with '-')";
            }

            if (c.Cgroup is { } g && (!g.StartsWith('/') || g.Contains("..", StringComparison.Ordinal)))
            {
                yield return $"Lls.Containers: the cgroup '{g}' of {c.Name} must be an absolute cgroup path such as /machine.slice/systemd-nspawn@{c.Name}.service";
            }
        }

        foreach (var dup in Containers.GroupBy(c => c.Name, StringComparer.Ordinal).Where(g => g.Count() > 1))
        {
            yield return $"Lls.Containers: '{dup.Key}' is listed twice";
        }
    }
}

/// <summary>
/// One registered container. <see cref="Cgroup"/>: the cgroup its processes run in (and below),
/// for runtimes other than LXC; LXC's default is <c>/lxc.payload.NAME</c>.
/// </summary>
public sealed record LlsContainer
{
    public string Name { get; init; } = "";

    public string? Cgroup { get; init; }

    public LlsQuota? Quota { get; init; }

    /// <summary>Snapshots never collected: names, or prefixes ending in <c>*</c>.</summary>
    public string[] Keep { get; init; } = [];

    public bool Keeps(string volume) => Keep.Any(k => k.EndsWith('*') ? volume.StartsWith(k[..^1], StringComparison.Ordinal) : volume == k);

    public string CgroupPath => Cgroup ?? $"/lxc.payload.{Name}";
}

/// <summary>A container's limits; null: no limit. Snapshots count as volumes too.</summary>
public sealed record LlsQuota
{
    public long? MaxBytes { get; init; }

    public int? MaxVolumes { get; init; }

    public int? MaxSnapshots { get; init; }

    public long? MaxSnapshotBytes { get; init; }
}

/// <summary>
/// How LLS volumes are named in the shared VG and marked: a container's volume NAME is the LV
/// <c>lls.HOST.CONTAINER.NAME</c>, tagged <c>lls.owner=HOST/CONTAINER</c>. A container can name
/// only LVs under its own prefix (its names have no dots), and the tag, in the shared metadata,
/// is checked by the coordinator on every change.
/// </summary>
public static partial class LlsNames
{
    public const string OwnerTagPrefix = "lls.owner=";

    // \z, not $: in .NET $ also matches before a final newline ("c1\n" would pass).
    [GeneratedRegex(@"^[A-Za-z0-9_][A-Za-z0-9_-]{0,31}\z")]
    private static partial Regex ContainerName();

    [GeneratedRegex(@"^[A-Za-z0-9_+][A-Za-z0-9_+-]{0,63}\z")]
    private static partial Regex VolumeName();

    public static bool IsContainerName(string? name) => name is not null && ContainerName().IsMatch(name);

    public static string Owner(string host, string container) => $"{host}/{container}";

    public static string OwnerTag(string owner) => OwnerTagPrefix + owner;

    /// <summary>The owner (<c>HOST/CONTAINER</c>) an LV's tags name, or null.</summary>
    public static string? OwnerOf(IEnumerable<string> tags) =>
        tags.FirstOrDefault(t => t.StartsWith(OwnerTagPrefix, StringComparison.Ordinal))?[OwnerTagPrefix.Length..];

    public static string Prefix(string host, string container) => $"lls.{host}.{container}.";

    /// <summary>The LV of a container's volume, after the name is checked.</summary>
    /// <exception cref="VgMesh.Lvm.InvalidLvmNameException">The name is not one LLS accepts.</exception>
    public static string LvName(string host, string container, string name)
    {
        if (name is null || !VolumeName().IsMatch(name))
        {
            throw new VgMesh.Lvm.InvalidLvmNameException(name ?? "", "LLS volume",
                "use 1-64 of A-Z a-z 0-9 _ + -, not starting with '-'");
        }

        var lv = Prefix(host, container) + name;
        VgMesh.Lvm.LvmNames.ValidateLv(lv);
        return lv;
    }

    /// <summary>The container's name for an LV under its prefix, or null.</summary>
    public static string? VolumeOf(string lv, string host, string container)
    {
        var prefix = Prefix(host, container);
        return lv.StartsWith(prefix, StringComparison.Ordinal) && VolumeName().IsMatch(lv[prefix.Length..]) ? lv[prefix.Length..] : null;
    }
}
