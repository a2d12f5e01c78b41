namespace VgMesh.Lvm;

/// <summary>How <c>lvchange -a</c> activates an LV on this host.</summary>
public enum ActivationMode
{
    /// <summary><c>-ay</c>: LVM's default for the VG's lock type.</summary>
    Default,

    /// <summary><c>-aey</c>: exclusive (enforced by lvmlockd in a shared VG; by vgmesh's claims otherwise).</summary>
    Exclusive,

    /// <summary><c>-asy</c>: shared.</summary>
    Shared,

    /// <summary><c>-aly</c>: this host only.</summary>
    Local,
}

/// <summary>A new LV. <see cref="Activate"/> false creates it inactive (and unzeroed: zeroing needs activation).</summary>
public sealed record CreateLvRequest(LvRef Lv, long SizeBytes, IReadOnlyList<string>? Tags = null, bool Activate = true);
