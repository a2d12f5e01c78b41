namespace VgMesh.Lvm;

/// <summary>
/// A validated reference to one logical volume. vgmesh always builds <c>vg/lv</c> itself from
/// two validated parts, so a single argument can never select several objects.
/// </summary>
public sealed record LvRef
{
    public LvRef(string vg, string lv)
    {
        Vg = LvmNames.ValidateVg(vg);
        Lv = LvmNames.ValidateLv(lv);
    }

    public string Vg { get; }

    public string Lv { get; }

    /// <summary>The <c>vg/lv</c> form LVM commands take.</summary>
    public string FullName => $"{Vg}/{Lv}";

    /// <summary>The stable device path.</summary>
    public string DevicePath => $"/dev/{Vg}/{Lv}";

    /// <summary>The device-mapper name: '-' inside each part is doubled, then the parts are joined by '-'.</summary>
    public string DmName => DmNameOf(Vg, Lv);

    public static string DmNameOf(string vg, string lv) =>
        $"{vg.Replace("-", "--", StringComparison.Ordinal)}-{lv.Replace("-", "--", StringComparison.Ordinal)}";

    /// <summary>
    /// The LV of a top-level device-mapper name of <paramref name="vg"/> (the inverse of
    /// <see cref="DmNameOf"/>), or null for another VG's device or a layer such as
    /// <c>VG-LV-real</c> or <c>VG-LV-cow</c> (a single '-' after the LV's part).
    /// </summary>
    public static string? LvOfDmName(string vg, string dmName)
    {
        ArgumentNullException.ThrowIfNull(vg);
        ArgumentNullException.ThrowIfNull(dmName);
        var prefix = DmNameOf(vg, "");
        if (!dmName.StartsWith(prefix, StringComparison.Ordinal) || dmName.Length == prefix.Length)
        {
            return null;
        }

        var lv = new System.Text.StringBuilder();
        for (var i = prefix.Length; i < dmName.Length; i++)
        {
            if (dmName[i] != '-')
            {
                lv.Append(dmName[i]);
            }
            else if (i + 1 < dmName.Length && dmName[i + 1] == '-')
            {
                lv.Append('-');
                i++;
            }
            else
            {
                return null;
            }
        }

        return lv.ToString();
    }

    /// <summary>Parses <c>vg/lv</c>; both parts are validated.</summary>
    public static LvRef Parse(string fullName)
    {
        ArgumentNullException.ThrowIfNull(fullName);
        var slash = fullName.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0 || slash != fullName.LastIndexOf('/'))
        {
            throw new InvalidLvmNameException(fullName, "logical volume", "expected exactly one '/' as in 'vg/lv'");
        }

        return new LvRef(fullName[..slash], fullName[(slash + 1)..]);
    }

    public override string ToString() => FullName;
}
