using VgMesh.Lvm;
using VgMesh.Lvm.DeviceMapper;
using VgMesh.Lvm.OnDisk;

namespace VgMesh.Agent.Reconciling;

/// <summary>
/// The VG's metadata as the shared disk has it now, read without an LVM process: the first
/// metadata area of the VG's PVs here (one O_DIRECT sector for its header; the text only when
/// the header moved), and each PV's device number here by its uuid, for tables computed from it.
/// Shared by the drift watch (which reads it every 200 ms) and the activation of a plain LV
/// (which must act on the metadata of this instant, not of the last pass).
/// </summary>
public sealed class OnDiskMetadata(LvmDriver lvm, DmSetup dm) : IDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private MetadataArea? _area;
    private IReadOnlyDictionary<string, string> _pvNumbers = new Dictionary<string, string>();
    private (MetadataFingerprint At, VgMetadata Vg)? _last;

    /// <summary>
    /// The metadata now, and where it was read (a new fingerprint means a new commit); null where
    /// no PV of the VG here has a metadata area. I/O and format errors are thrown, and the area is
    /// opened again at the next read (a PV's path can change under multipath).
    /// </summary>
    public async Task<(MetadataFingerprint At, VgMetadata Vg)?> ReadAsync(string vg, CancellationToken ct)
    {
        await _gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            _area ??= await OpenAsync(vg, ct).ConfigureAwait(false);
            if (_area is null)
            {
                return null;
            }

            var at = _area.Fingerprint();
            if (_last is not { } last || last.At != at)
            {
                _last = (at, MetadataText.Parse(_area.Text(at)));
            }

            return _last;
        }
        catch (Exception e) when (e is IOException or FormatException or UnauthorizedAccessException or LvmException)
        {
            _area?.Dispose();
            (_area, _last) = (null, null);
            throw;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>A PV's device number here (<c>major:minor</c>) by its uuid; null when not known.</summary>
    public string? PvNumber(string pvUuid) => _pvNumbers.GetValueOrDefault(pvUuid);

    /// <summary>The first of the VG's PVs here that has a metadata area (null when none has); each PV's number on the way.</summary>
    private async Task<MetadataArea?> OpenAsync(string vg, CancellationToken ct)
    {
        var pvs = (await lvm.ListPvsAsync(ct).ConfigureAwait(false)).Where(p => p.VgName == vg).ToList();
        _pvNumbers = pvs.Select(p => (p.Uuid, Number: dm.DeviceNumberOf(p.Name))).Where(p => p.Number is not null)
            .ToDictionary(p => p.Uuid, p => p.Number!, StringComparer.Ordinal);
        return pvs.Select(pv => MetadataArea.Open(pv.Name)).FirstOrDefault(a => a is not null);
    }

    public void Dispose()
    {
        _area?.Dispose();
        _gate.Dispose();
    }
}
