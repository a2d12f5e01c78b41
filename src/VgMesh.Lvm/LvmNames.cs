namespace VgMesh.Lvm;

/// <summary>
/// LVM's own naming rules, checked before any process starts, so that a hostile name
/// (<c>@tag</c>, a bare VG where an LV is meant, <c>vg/../x</c>, an option such as <c>-n</c>)
/// can never reach an <c>lvm</c> argument array as anything but the object it names.
/// </summary>
public static class LvmNames
{
    public const int MaxLength = 127;

    // LVM reserves these for its internal sub-LVs (lib/metadata/lv_manip.c, apply_lvname_restrictions).
    private static readonly string[] ReservedLvSubstrings =
    [
        "_cdata", "_cmeta", "_corig", "_cpool", "_cvol", "_imeta", "_iorig", "_mimage", "_mlog",
        "_pmspare", "_rimage", "_rmeta", "_tdata", "_tmeta", "_vdata", "_vorigin", "_wcorig",
    ];

    private static readonly string[] ReservedLvPrefixes = ["snapshot", "pvmove"];

    /// <summary>Returns the name when it is a valid VG name; throws <see cref="InvalidLvmNameException"/> naming the rule otherwise.</summary>
    public static string ValidateVg(string? name) => ValidateCommon(name, "volume group");

    /// <summary>Returns the name when it is a valid LV name; throws <see cref="InvalidLvmNameException"/> naming the rule otherwise.</summary>
    public static string ValidateLv(string? name)
    {
        var n = ValidateCommon(name, "logical volume");
        foreach (var prefix in ReservedLvPrefixes)
        {
            if (n.StartsWith(prefix, StringComparison.Ordinal))
            {
                throw new InvalidLvmNameException(n, "logical volume", $"it may not start with '{prefix}' (reserved by LVM)");
            }
        }

        foreach (var reserved in ReservedLvSubstrings)
        {
            if (n.Contains(reserved, StringComparison.Ordinal))
            {
                throw new InvalidLvmNameException(n, "logical volume", $"it may not contain '{reserved}' (reserved for LVM's internal volumes)");
            }
        }

        return n;
    }

    /// <summary>
    /// Tags: <c>[A-Za-z0-9_+.-/=!:&amp;#]</c>, at most 1024 characters (LVM's validate_tag).
    /// </summary>
    public static string ValidateTag(string? tag)
    {
        if (string.IsNullOrEmpty(tag))
        {
            throw new InvalidLvmNameException(tag ?? "", "tag", "it is empty");
        }

        if (tag.Length > 1024)
        {
            throw new InvalidLvmNameException(tag, "tag", "it is longer than 1024 characters");
        }

        if (tag[0] == '-')
        {
            throw new InvalidLvmNameException(tag, "tag", "it may not start with '-'");
        }

        foreach (var c in tag)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || "_+.-/=!:&#".Contains(c, StringComparison.Ordinal)))
            {
                throw new InvalidLvmNameException(tag, "tag", $"character '{Printable(c)}' is not allowed (use A-Z a-z 0-9 _ + . - / = ! : & #)");
            }
        }

        return tag;
    }

    private static string ValidateCommon(string? name, string kind)
    {
        if (string.IsNullOrEmpty(name))
        {
            throw new InvalidLvmNameException(name ?? "", kind, "it is empty");
        }

        if (name.Length > MaxLength)
        {
            throw new InvalidLvmNameException(name, kind, $"it is {name.Length} characters long; at most {MaxLength} are allowed");
        }

        if (name is "." or "..")
        {
            throw new InvalidLvmNameException(name, kind, "'.' and '..' are not names");
        }

        if (name[0] == '-')
        {
            throw new InvalidLvmNameException(name, kind, "it may not start with '-' (it would read as an option)");
        }

        foreach (var c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '+' or '_' or '.' or '-'))
            {
                var why = c switch
                {
                    '@' => "'@' selects objects by tag",
                    '/' => "'/' separates a VG from an LV; give each part separately",
                    _ => $"character '{Printable(c)}' is not allowed",
                };
                throw new InvalidLvmNameException(name, kind, $"{why} (use A-Z a-z 0-9 + _ . -)");
            }
        }

        return name;
    }

    private static string Printable(char c) => char.IsControl(c) || c == ' ' ? $"U+{(int)c:X4}" : c.ToString();
}
