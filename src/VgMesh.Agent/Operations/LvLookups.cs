using VgMesh.Lvm;
using VgMesh.Lvm.Reports;

namespace VgMesh.Agent.Operations;

/// <summary>The handlers' reads of one LV, with "not there" turned into what the operation means by it.</summary>
public static class LvLookups
{
    public static async Task<bool> ExistsAsync(this LvmDriver lvm, LvRef lv, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(lvm);
        try
        {
            await lvm.GetLvAsync(lv, ct).ConfigureAwait(false);
            return true;
        }
        catch (LvmNotFoundException)
        {
            return false;
        }
    }

    /// <summary>The LV, or <see cref="LvNotFound"/>.</summary>
    public static async Task<LogicalVolume> GetOrNotFoundAsync(this LvmDriver lvm, LvRef lv, CancellationToken ct) =>
        await lvm.GetOrGoneAsync(lv, recovered: false, ct).ConfigureAwait(false) ?? throw new InvalidOperationException("unreachable: only a replay finds the LV gone");

    /// <summary>The LV; null when it is gone and the operation is a replay (the previous coordinator did it); otherwise <see cref="LvNotFound"/>.</summary>
    public static async Task<LogicalVolume?> GetOrGoneAsync(this LvmDriver lvm, LvRef lv, bool recovered, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(lvm);
        ArgumentNullException.ThrowIfNull(lv);
        try
        {
            return await lvm.GetLvAsync(lv, ct).ConfigureAwait(false);
        }
        catch (LvmNotFoundException) when (recovered)
        {
            return null;
        }
        catch (LvmNotFoundException)
        {
            throw new LvNotFound(lv.FullName);
        }
    }
}
