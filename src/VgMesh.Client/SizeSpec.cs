using System.Globalization;

namespace VgMesh.Client;

/// <summary>
/// A size as LVM's tools take it: a number with an optional unit (b, s = 512-byte sectors,
/// k, m, g, t, p, e; binary multiples; default m), optionally signed for a relative change.
/// </summary>
public readonly record struct SizeSpec(long Bytes, int Sign)
{
    private static readonly System.Buffers.SearchValues<char> SizeCharacters =
        System.Buffers.SearchValues.Create("0123456789.+-bskmgtpeBSKMGTPE");

    public bool IsRelative => Sign != 0;

    public static SizeSpec Parse(string? text)
    {
        if (!TryParse(text, out var spec, out var error))
        {
            throw new FormatException(error);
        }

        return spec;
    }

    public static bool TryParse(string? text, out SizeSpec spec, out string error)
    {
        spec = default;
        var s = text?.Trim() ?? "";
        var sign = 0;
        // .NET's number parsing ignores trailing NULs ("8\0M" would read as 8M): only what a size is made of.
        if (s.AsSpan().ContainsAnyExcept(SizeCharacters))
        {
            error = NotASize(text);
            return false;
        }

        if (s.StartsWith('+') || s.StartsWith('-'))
        {
            sign = s[0] == '+' ? 1 : -1;
            s = s[1..];
        }

        var unit = s.Length > 0 && char.IsLetter(s[^1]) ? char.ToLowerInvariant(s[^1]) : 'm';
        var number = s.Length > 0 && char.IsLetter(s[^1]) ? s[..^1] : s;
        long multiplier = unit switch
        {
            'b' => 1, 's' => 512, 'k' => 1L << 10, 'm' => 1L << 20, 'g' => 1L << 30, 't' => 1L << 40, 'p' => 1L << 50, 'e' => 1L << 60, _ => 0,
        };
        if (multiplier == 0 || !decimal.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value) || value <= 0)
        {
            error = NotASize(text);
            return false;
        }

        // Checked before multiplying: decimal overflows past 7.9e28.
        if (value > (long.MaxValue / 2) / (decimal)multiplier)
        {
            error = $"size '{text}' is too large";
            return false;
        }

        spec = new SizeSpec((long)Math.Ceiling(value * multiplier), sign);
        error = "";
        return true;
    }

    /// <summary>The absolute size this spec asks for, given the current size.</summary>
    private static string NotASize(string? text) =>
        $"size '{text}' is not a size: use a positive number with an optional unit b, s, k, m, g, t, p or e (e.g. 10G, +2G, 512M)";

    public long Resolve(long currentBytes) => Sign switch { 0 => Bytes, > 0 => currentBytes + Bytes, _ => currentBytes - Bytes };

    public static string Format(long bytes) => bytes switch
    {
        >= 1L << 40 when bytes % (1L << 30) == 0 => $"{bytes / (double)(1L << 40):0.##}T",
        >= 1L << 30 => $"{bytes / (double)(1L << 30):0.##}G",
        >= 1L << 20 => $"{bytes / (double)(1L << 20):0.##}M",
        _ => $"{bytes}B",
    };
}
