using System.Text;
using static VgMesh.Proof.Fuzzing.Hostile;

namespace VgMesh.Proof.Fuzzing;

/// <summary>
/// Requests on a container's LLS socket, run inside the container. <paramref name="foreign"/>
/// names volumes another container owns: every operation naming them must answer 404, exactly
/// as for a name nobody has. Valid operations use the fuzzer's own pool of volume names.
/// </summary>
public sealed class LlsCases(IReadOnlyList<string> foreign) : ICaseSource
{
    public static readonly string[] Pool = ["fz0", "fz1", "fz2", "fz3"];

    public string Surface => "lls";

    public FuzzCase Make(int index, Random r)
    {
        ArgumentNullException.ThrowIfNull(r);
        var roll = r.Next(1000);
        return roll switch
        {
            < 400 => HostileName(index, r),
            < 630 => HostileField(index, r),
            < 750 => NotJson(index, r),
            < 800 => WrongRoute(index, r),
            < 900 => ApiCases.Garbage(index, r, null),
            < 989 => OperatorsApi(index, r),
            // Each of these reads the VG (lvs, half a second or more in the lab); a valid one runs
            // LVM and makes a device node (seconds): a few in a thousand keep 10,000 requests short.
            < 993 when foreign.Count > 0 => Foreign(index, r),
            < 995 => WithBody(index, "oversized", Expect.Refused, "POST", "/lls/v1/volumes", $"{{\"name\":\"{new string('x', r.Next(1 << 20, 3 << 20))}\",\"size\":\"8M\"}}"),
            < 999 => Valid(index, r),
            _ => Valid(index, r) with { Kind = "twice", Twice = true },
        };
    }

    private static string Pooled(Random r) => Pool[r.Next(Pool.Length)];

    private static FuzzCase WithBody(int index, string kind, Expect expect, string method, string target, string json) =>
        new(index, kind, expect, RawHttp.Request(method, target, null, "application/json", Encoding.UTF8.GetBytes(json)));

    private static string ValidBody(string verb, Random r) => verb switch
    {
        "snapshot" => $"{{\"name\":\"{Pooled(r)}\",\"size\":\"4M\"}}",
        "resize" => $"{{\"size\":\"{r.Next(2, 5) * 4}M\"}}",
        _ => $"{{\"{Pick(r, "hidden", "readOnly", "noMount")}\":{(r.Next(2) == 0 ? "true" : "false")}}}",
    };

    private static readonly string[] Verbs = ["snapshot", "resize", "flags"];

    private static FuzzCase HostileName(int index, Random r)
    {
        var name = InPath(r, LlsName);
        // Not when the name would make it another request: '?' or '#' end the path (the rest is
        // a query), and a space or a tab ends the request target (Kestrel reads "/v1/lvs/9\tx" as
        // a request for LV 9; seen in the lab).
        var raw = r.Next(10) == 0 && name.IndexOfAny(['?', '#', ' ', '\t']) < 0 && name.All(c => c <= '\xff');
        var p = raw ? name : Uri.EscapeDataString(name);
        // Raw (unescaped) in the path, a name may break the request line: then any 4xx or a close is right.
        var inPath = raw ? Expect.Garbage : Expect.Refused;
        var verb = Verbs[r.Next(Verbs.Length)];
        return r.Next(4) switch
        {
            0 => new FuzzCase(index, "name", inPath, RawHttp.Request("DELETE", $"/lls/v1/volumes/{p}", null)),
            // In a body, any hostile name (the empty one and dots included).
            1 => WithBody(index, "name", Expect.Refused, "POST", "/lls/v1/volumes", $"{{\"name\":{Hostile.Json(LlsName(r))},\"size\":\"8M\"}}"),
            2 => WithBody(index, "name", Expect.Refused, "POST", $"/lls/v1/volumes/{Pooled(r)}/snapshot", $"{{\"name\":{Hostile.Json(LlsName(r))},\"size\":\"4M\"}}"),
            _ => WithBody(index, "name", inPath, "POST", $"/lls/v1/volumes/{p}/{verb}", ValidBody(verb, r)),
        };
    }

    private static FuzzCase HostileField(int index, Random r)
    {
        var v = Pooled(r);
        return r.Next(5) switch
        {
            0 => WithBody(index, "field", Expect.Refused, "POST", "/lls/v1/volumes", $"{{\"name\":\"{v}\",\"size\":{Hostile.Json(AbsoluteSize(r))}}}"),
            1 => WithBody(index, "field", Expect.Refused, "POST", $"/lls/v1/volumes/{v}/snapshot", $"{{\"name\":\"{Pooled(r)}\",\"size\":{Hostile.Json(AbsoluteSize(r))}}}"),
            2 => WithBody(index, "field", Expect.Refused, "POST", $"/lls/v1/volumes/{v}/resize", $"{{\"size\":{Hostile.Json(Size(r))}}}"),
            3 => WithBody(index, "field", Expect.Refused, "POST", $"/lls/v1/volumes/{v}/flags", "{}"),
            _ => WithBody(index, "field", Expect.Refused, "POST", $"/lls/v1/volumes/{v}/flags", $"{{\"hidden\":null,\"readOnly\":null,\"noMount\":null}}"),
        };
    }

    private static FuzzCase NotJson(int index, Random r)
    {
        var v = Pooled(r);
        var target = Pick(r, "/lls/v1/volumes", $"/lls/v1/volumes/{v}/snapshot", $"/lls/v1/volumes/{v}/resize", $"/lls/v1/volumes/{v}/flags");
        if (r.Next(2) == 0)
        {
            return new FuzzCase(index, "json", Expect.Refused, RawHttp.Request("POST", target, null, "application/json", NotABody(r)));
        }

        var wrong = Pick(r, "1", "[1]", "{}", "true");
        return r.Next(4) switch
        {
            0 => WithBody(index, "json", Expect.Refused, "POST", "/lls/v1/volumes", r.Next(2) == 0 ? $"{{\"name\":{wrong},\"size\":\"8M\"}}" : $"{{\"name\":\"{v}\",\"size\":{wrong}}}"),
            1 => WithBody(index, "json", Expect.Refused, "POST", $"/lls/v1/volumes/{v}/snapshot", $"{{\"name\":{wrong}}}"),
            2 => WithBody(index, "json", Expect.Refused, "POST", $"/lls/v1/volumes/{v}/resize", $"{{\"size\":{wrong}}}"),
            _ => WithBody(index, "json", Expect.Refused, "POST", $"/lls/v1/volumes/{v}/flags", $"{{\"readOnly\":{Pick(r, "\"yes\"", "1", "[]")}}}"),
        };
    }

    private static FuzzCase WrongRoute(int index, Random r)
    {
        var v = Pooled(r);
        var (method, target) = r.Next(8) switch
        {
            0 => ("PUT", "/lls/v1/volumes"),
            1 => ("GET", $"/lls/v1/volumes/{v}/snapshot"),
            2 => ("PATCH", $"/lls/v1/volumes/{v}"),
            3 => ("GET", "/lls/v2/volumes"),
            4 => ("POST", $"/lls/v1/volumes/{v}/merge"),
            5 => ("DELETE", "/lls/v1/volumes"),
            6 => ("GET", "/lls/v1/quotas"),
            _ => ("GET", "/lls"),
        };
        return new FuzzCase(index, "route", Expect.Refused, RawHttp.Request(method, target, null, "application/json", "{}"u8.ToArray()));
    }

    /// <summary>The operators' API, and its metrics, asked on a container's socket: refused whatever the request.</summary>
    private static FuzzCase OperatorsApi(int index, Random r)
    {
        var (method, target, body) = r.Next(7) switch
        {
            0 => ("GET", "/v1/lvs", ""),
            1 => ("POST", "/v1/lvs", "{\"name\":\"fz0\",\"size\":\"8M\"}"),
            2 => ("DELETE", "/v1/lvs/fz0", ""),
            3 => ("GET", "/metrics", ""),
            4 => ("POST", "/v1/cluster/form", ""),
            5 => ("PUT", "/v1/lls/quotas/node1/c1", "{\"maxBytes\":\"1T\"}"),
            _ => ("POST", "/v1/internal/steps", "{}"),
        };
        return new FuzzCase(index, "operators-api", Expect.Refused, RawHttp.Request(method, target, null, "application/json", Encoding.UTF8.GetBytes(body)));
    }

    /// <summary>Every operation on another container's volume, by its name.</summary>
    private FuzzCase Foreign(int index, Random r)
    {
        var name = foreign[r.Next(foreign.Count)];
        return r.Next(4) switch
        {
            0 => new FuzzCase(index, "foreign", Expect.Hidden, RawHttp.Request("DELETE", $"/lls/v1/volumes/{name}", null)),
            1 => WithBody(index, "foreign", Expect.Hidden, "POST", $"/lls/v1/volumes/{name}/snapshot", $"{{\"name\":\"{Pooled(r)}\",\"size\":\"4M\"}}"),
            2 => WithBody(index, "foreign", Expect.Hidden, "POST", $"/lls/v1/volumes/{name}/resize", "{\"size\":\"64M\"}"),
            _ => WithBody(index, "foreign", Expect.Hidden, "POST", $"/lls/v1/volumes/{name}/flags", "{\"hidden\":true}"),
        };
    }

    private static FuzzCase Valid(int index, Random r)
    {
        var v = Pooled(r);
        var roll = r.Next(10);
        if (roll < 2)
        {
            return new FuzzCase(index, "valid", Expect.Any, RawHttp.Request("GET", "/lls/v1/volumes", null));
        }

        if (roll < 5)
        {
            return WithBody(index, "valid", Expect.Any, "POST", "/lls/v1/volumes", $"{{\"name\":\"{v}\",\"size\":\"{r.Next(1, 3) * 4}M\"}}");
        }

        if (roll < 7)
        {
            return new FuzzCase(index, "valid", Expect.Any, RawHttp.Request("DELETE", $"/lls/v1/volumes/{v}", null));
        }

        var verb = Verbs[r.Next(Verbs.Length)];
        return WithBody(index, "valid", Expect.Any, "POST", $"/lls/v1/volumes/{v}/{verb}", ValidBody(verb, r));
    }
}
