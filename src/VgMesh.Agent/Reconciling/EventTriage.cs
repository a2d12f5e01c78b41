using System.Text.Json;
using VgMesh.Cluster;
using VgMesh.Lvm;
using VgMesh.Lvm.DeviceMapper;

namespace VgMesh.Agent.Reconciling;

/// <summary>
/// Decides whether a batch of cluster events asks anything of this host's device-mapper state,
/// so that a batch that asks nothing is acknowledged without a pass: a look in sysfs per event at
/// most, instead of a pass's four reads. When unsure, it says "not quiet" and a pass decides.
/// </summary>
public sealed class EventTriage(DmSetup dm, Operations.LocalSteps localSteps, AgentOptions options)
{
    /// <summary>
    /// Events that change nothing in any host's device-mapper state: the new LV is inactive, a
    /// snapshot was made by the host where its origin is active, a rename needed the LV inactive
    /// everywhere.
    /// </summary>
    private static readonly HashSet<string> Quiet = new(StringComparer.Ordinal) { "lv.created", "lv.snapshot-created", "lv.renamed", "lv.tagged", "lls.quota-set" };

    /// <summary>Events that concern only hosts where the LV has a device (and, for a claim, the claimant).</summary>
    private static readonly HashSet<string> QuietWithoutDevice = new(StringComparer.Ordinal) { "lv.extended", "lv.reduced", "lv.removed", "lv.released", "lv.claimed" };

    /// <summary>True when the batch asks nothing of this host (whose last pass found <paramref name="activeHere"/> active).</summary>
    public async Task<bool> QuietHereAsync(IReadOnlyList<ClusterEvent> batch, IReadOnlySet<string> activeHere, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(activeHere);
        try
        {
            return await QuietCoreAsync(batch, activeHere, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is LvmException or JsonException)
        {
            return false; // unsure: a full pass decides
        }
    }

    /// <summary>True when every event of the batch is a claim of one of the <paramref name="handled"/> LVs or asks nothing of this host.</summary>
    public async Task<bool> AllHandledAsync(IReadOnlyList<ClusterEvent> batch, IReadOnlySet<string> handled, IReadOnlySet<string> activeHere, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(handled);
        foreach (var e in batch)
        {
            if (!(e.Kind == "lv.claimed" && LvOf(e) is { } lv && handled.Contains(lv)) && !await QuietHereAsync([e], activeHere, ct).ConfigureAwait(false))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The LV an event's subject (<c>vg/lv</c>) names, or null.</summary>
    public static string? LvOf(ClusterEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        var slash = e.Subject.IndexOf('/', StringComparison.Ordinal);
        return slash < 0 ? null : e.Subject[(slash + 1)..];
    }

    private async Task<bool> QuietCoreAsync(IReadOnlyList<ClusterEvent> batch, IReadOnlySet<string> activeHere, CancellationToken ct)
    {
        foreach (var e in batch)
        {
            if (Quiet.Contains(e.Kind) || (e.Kind == "lv.extended" && localSteps.TakeRanHere(e.OperationId)))
            {
                continue;
            }

            if (!QuietWithoutDevice.Contains(e.Kind) || LvOf(e) is not { } name)
            {
                return false;
            }

            if (e.Kind == "lv.claimed" && (e.Data is null || JsonSerializer.Deserialize(e.Data, AgentJsonContext.Default.LvOperation)?.Host is not { } claimant || claimant == options.Host))
            {
                return false;
            }

            // Active here at the last pass: surely not quiet, no need to ask device-mapper.
            if (activeHere.Contains(name) || await dm.ExistsAsync(LvRef.DmNameOf(options.VolumeGroup, name), ct).ConfigureAwait(false))
            {
                return false;
            }
        }

        return true;
    }
}
