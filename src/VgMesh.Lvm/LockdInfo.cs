using System.Collections.Immutable;
using System.Globalization;
using System.Text.RegularExpressions;

namespace VgMesh.Lvm;

/// <summary>An LV lock lvmlockd holds on this host: <c>ex</c> (exclusive) or <c>sh</c> (shared).</summary>
public sealed record LvLock(string LvUuid, string Mode);

/// <summary>One VG lvmlockd knows on this host.</summary>
/// <param name="Lockspace">The lockspace's name (<c>lvm_VG</c>); null while it is not started here.</param>
public sealed record LockdVg(string Name, string LockType, string? Lockspace, ImmutableArray<LvLock> LvLocks);

/// <summary>
/// What <c>lvmlockctl --info</c> prints (lvm2-lockd 2.03.16), one line per item:
/// <code>
/// VG san lock_type=sanlock dnTGvr-Jrvd-0A2i-Cdhp-X7MO-R3Ma-VSehdy
/// LS sanlock lvm_san
/// LK VG un ver 5
/// LK LV ex 5UtLqO-0GWn-PhrJ-bdfn-NJ3j-PIAb-3T6AbR
/// </code>
/// </summary>
public sealed partial record LockdInfo(ImmutableArray<LockdVg> Vgs)
{
    public LockdVg? Vg(string name) => Vgs.FirstOrDefault(v => v.Name == name);

    public static LockdInfo Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var vgs = ImmutableArray.CreateBuilder<LockdVg>();
        LockdVg? current = null;
        var locks = ImmutableArray.CreateBuilder<LvLock>();
        void Close()
        {
            if (current is not null)
            {
                vgs.Add(current with { LvLocks = locks.ToImmutable() });
                locks.Clear();
            }
        }

        foreach (var raw in text.Split('\n'))
        {
            var f = raw.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (f.Length == 0)
            {
                continue;
            }

            switch (f[0])
            {
                case "VG" when f.Length >= 3 && LockType().Match(f[2]) is { Success: true } m:
                    Close();
                    current = new LockdVg(f[1], m.Groups[1].Value, null, []);
                    break;
                case "LS" when f.Length >= 3 && current is not null:
                    current = current with { Lockspace = f[2] };
                    break;
                case "LK" when f.Length >= 4 && f[1] == "LV" && current is not null:
                    locks.Add(new LvLock(f[3], f[2]));
                    break;
            }
        }

        Close();
        return new LockdInfo(vgs.ToImmutable());
    }

    [GeneratedRegex("^lock_type=(\\w+)$")]
    private static partial Regex LockType();
}

/// <summary>
/// The sanlock host id in <c>lvmlocal.conf</c> (<c>local { host_id = N }</c>): LVM reads it when a
/// host starts an lvmlockd VG's lockspace. Text in, text out; the agent writes the file.
/// </summary>
public static partial class LvmLocalConf
{
    /// <summary>The host id the text sets, or null (none, or only in a comment).</summary>
    public static int? HostId(string? text)
    {
        if (text is null)
        {
            return null;
        }

        var m = HostIdLine().Match(text);
        return m.Success ? int.Parse(m.Groups["id"].Value, CultureInfo.InvariantCulture) : null;
    }

    /// <summary>
    /// The text with its host id set to <paramref name="id"/>: the existing setting replaced, else
    /// added to an existing <c>local</c> section, else a section added. Everything else stays.
    /// </summary>
    public static string WithHostId(string? text, int id)
    {
        var setting = string.Create(CultureInfo.InvariantCulture, $"host_id = {id}");
        text ??= "";
        if (HostIdLine().Match(text) is { Success: true } m)
        {
            var g = m.Groups["setting"];
            return string.Concat(text.AsSpan(0, g.Index), setting, text.AsSpan(g.Index + g.Length));
        }

        if (LocalSection().Match(text) is { Success: true } local)
        {
            return text.Insert(local.Index + local.Length, $"\n    {setting}");
        }

        return $"{text}{(text.Length == 0 || text.EndsWith('\n') ? "" : "\n")}# sanlock host id, assigned by the vgmesh cluster (unique among its hosts).\nlocal {{\n    {setting}\n}}\n";
    }

    [GeneratedRegex(@"^[ \t]*(?<setting>host_id[ \t]*=[ \t]*(?<id>\d+))", RegexOptions.Multiline)]
    private static partial Regex HostIdLine();

    [GeneratedRegex(@"^[ \t]*local[ \t]*\{", RegexOptions.Multiline)]
    private static partial Regex LocalSection();
}
