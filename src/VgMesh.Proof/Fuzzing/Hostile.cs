using System.Text;

namespace VgMesh.Proof.Fuzzing;

/// <summary>
/// Input no request may get through with. Written from LVM's rules and the API's documentation,
/// not from the agent's validators: the fuzzer is the oracle, so it must not share their mistakes.
/// Every value here is invalid wherever it is used; the generators never produce a valid one.
/// </summary>
public static class Hostile
{
    /// <summary>Invalid as an LV name and as an LLS volume name.</summary>
    private static readonly string[] CommonNames =
    [
        "", ".", "..", "-", "-rf", "--help", "--config=x", "a b", "a/b", "../../etc/passwd", "/dev/sda", "a\nb", "fz0\n", "a\rb", "a\0b", "a\tb",
        "äö", "名前", "a;reboot", "$(reboot)", "`id`", "a|b", "a&b", "*", "?", "~root", "a'b", "a\"b", "{}", "a,b", "a\u202eb",
        "@tag", "a@b", "a%b", "a\\b", "a:b", "a=b", "a#b", "a!b", "a<b", "a>b", "a(b)", "a[0]", "a^b", "\uFEFFa", "x_mlog", "x_rimage_0",
        "y_tdata", "z_tmeta", "w_corig", "v_vorigin", "u_pmspare", "t_cdata", "s_rmeta_1", "r_vdata", "q_imeta", "p_cpool", "o_wcorig",
    ];

    private static readonly string Forbidden = " /\\\n\r\t\0;|&$`'\"<>(){}[]*?~!@#%^=:,äλ\u202e\uFEFF\u00a0";

    private const string NameAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

    private static readonly string[] Reserved =
        ["_cdata", "_cmeta", "_corig", "_cpool", "_cvol", "_imeta", "_iorig", "_mimage", "_mlog", "_pmspare", "_rimage", "_rmeta", "_tdata", "_tmeta", "_vdata", "_vorigin", "_wcorig"];

    /// <summary>A name no LV may have: one of the list, or a made one with a forbidden character, a reserved part or too long.</summary>
    public static string LvName(Random r)
    {
        ArgumentNullException.ThrowIfNull(r);
        return r.Next(6) switch
        {
            0 or 1 => CommonNames[r.Next(CommonNames.Length)],
            2 => WithForbidden(r),
            3 => Plain(r, 1, 20) + Reserved[r.Next(Reserved.Length)] + Plain(r, 0, 5),
            4 => (r.Next(2) == 0 ? "snapshot" : "pvmove") + Plain(r, 0, 8),
            _ => r.Next(3) == 0 ? "-" + Plain(r, 1, 20) : Plain(r, 128, 400),
        };
    }

    /// <summary>
    /// A hostile name to put in a URL's path: not empty, "." or "..", which are not names there
    /// but empty or dot segments (<c>GET /v1/lvs/.</c> is <c>GET /v1/lvs/</c>, the list).
    /// </summary>
    public static string InPath(Random r, Func<Random, string> make)
    {
        ArgumentNullException.ThrowIfNull(make);
        while (true)
        {
            if (make(r) is not ("" or "." or "..") and var name)
            {
                return name;
            }
        }
    }

    /// <summary>A name no LLS volume may have ([A-Za-z0-9_+][A-Za-z0-9_+-]{0,63}, and an LV name once prefixed).</summary>
    public static string LlsName(Random r)
    {
        ArgumentNullException.ThrowIfNull(r);
        return r.Next(6) switch
        {
            0 or 1 => CommonNames[r.Next(CommonNames.Length)],
            2 => WithForbidden(r),
            3 => Plain(r, 1, 20) + Reserved[r.Next(Reserved.Length)],
            4 => Plain(r, 1, 10) + "." + Plain(r, 1, 10),
            _ => r.Next(3) == 0 ? "-" + Plain(r, 1, 20) : Plain(r, 65, 300),
        };
    }

    /// <summary>A valid-looking name with one character no name may contain.</summary>
    private static string WithForbidden(Random r)
    {
        var s = Plain(r, 1, 20);
        var at = r.Next(s.Length + 1);
        return s[..at] + Forbidden[r.Next(Forbidden.Length)] + s[at..];
    }

    public static string Plain(Random r, int min, int max)
    {
        ArgumentNullException.ThrowIfNull(r);
        var n = r.Next(min, max + 1);
        var b = new StringBuilder(n);
        for (var i = 0; i < n; i++)
        {
            b.Append(NameAlphabet[r.Next(NameAlphabet.Length)]);
        }

        return b.ToString();
    }

    /// <summary>Not a size anywhere: no number, a unit LVM does not have, zero, overflow, extra text.</summary>
    private static readonly string[] Sizes =
    [
        "", " ", "abc", "M", "8Q", "8MM", "1e3M", "0x10M", "NaN", "Infinity", "8M;reboot", "--8M", "++8M", "+-8M", "8.5.5M", "0", "0M", "-0M", "+0G",
        "0.0G", "99999999999999999999999999999T", "9223372036854775807G", "9223372036854775807E", "ä", "8 M", "8\0M", "١٢M", "$((1<<62))",
        "8,5M", "1_000M", "8MiB", "8mb", "-", "+", ".", "8e", "-8e-8", "8M 8M",
    ];

    public static string Size(Random r)
    {
        ArgumentNullException.ThrowIfNull(r);
        return Sizes[r.Next(Sizes.Length)];
    }

    /// <summary>A size a create or a snapshot must refuse: hostile, or relative (they take absolute sizes only).</summary>
    public static string AbsoluteSize(Random r) =>
        r.Next(5) == 0 ? (r.Next(2) == 0 ? "+" : "-") + (r.Next(1, 64) * 4) + "M" : Size(r);

    private static readonly string[] Tags = ["", "-x", "a b", "a\nb", "ä", "a;b", "a$b", "a|b", "a\"b", "a'b", "a*b", "a?b", "a,b", "a@b", "a%b", "\0", "a\\b"];

    public static string Tag(Random r) => r.Next(8) == 0 ? new string('t', r.Next(1025, 3000)) : Tags[r.Next(Tags.Length)];

    private static readonly string[] OperationIds = ["", ".x", "-x", "a b", "a/b", "ä", "a\nb", "a;b", "a:b", "a+b"];

    public static string OperationId(Random r) => r.Next(6) == 0 ? new string('o', r.Next(129, 600)) : OperationIds[r.Next(OperationIds.Length)];

    /// <summary>No host has these names (host names are DNS labels).</summary>
    private static readonly string[] HostNames = ["", "nohost", "node1\n", "../node1", "node1;reboot", "*", "node1 node2", "ä", "-node1", "node1/", "%00"];

    public static string Host(Random r) => HostNames[r.Next(HostNames.Length)];

    /// <summary>Not a JSON object of any request type: not JSON, another JSON type, or nested past any limit.</summary>
    public static byte[] NotABody(Random r)
    {
        ArgumentNullException.ThrowIfNull(r);
        return r.Next(12) switch
        {
            0 => [],
            1 => "{"u8.ToArray(),
            2 => "[]"u8.ToArray(),
            3 => "\"text\""u8.ToArray(),
            4 => "42"u8.ToArray(),
            5 => "{\"name\":}"u8.ToArray(),
            6 => "{'name':'x'}"u8.ToArray(),
            7 => Encoding.UTF8.GetBytes(new string('[', r.Next(65, 5000))),
            8 => Encoding.UTF8.GetBytes(new string('{', 1) + string.Concat(Enumerable.Repeat("\"a\":{", r.Next(65, 2000)))),
            9 => Bytes(r, r.Next(1, 400)),
            10 => "{\"name\":\"a\",}"u8.ToArray(),
            _ => "true"u8.ToArray(),
        };
    }

    /// <summary>One of <paramref name="options"/>.</summary>
    public static T Pick<T>(Random r, params ReadOnlySpan<T> options)
    {
        ArgumentNullException.ThrowIfNull(r);
        return options[r.Next(options.Length)];
    }

    public static byte[] Bytes(Random r, int n)
    {
        ArgumentNullException.ThrowIfNull(r);
        var b = new byte[n];
        r.NextBytes(b);
        return b;
    }

    /// <summary>A JSON string literal of <paramref name="s"/>, escaped as JSON requires (control characters included).</summary>
    public static string Json(string s)
    {
        ArgumentNullException.ThrowIfNull(s);
        var b = new StringBuilder("\"");
        foreach (var c in s)
        {
            _ = c switch
            {
                '"' => b.Append("\\\""),
                '\\' => b.Append("\\\\"),
                < ' ' => b.Append("\\u").Append(((int)c).ToString("x4", System.Globalization.CultureInfo.InvariantCulture)),
                _ => b.Append(c),
            };
        }

        return b.Append('"').ToString();
    }
}
