using System.Text;
using static VgMesh.Proof.Fuzzing.Hostile;

namespace VgMesh.Proof.Fuzzing;

/// <summary>
/// Requests for the operators' API over TCP. Valid operations only ever name the fuzzer's own
/// pool of LVs (<see cref="Pool"/>), so a run touches nothing else; everything else is invalid.
/// </summary>
public sealed class ApiCases(string token, IReadOnlyList<string> hosts) : ICaseSource
{
    /// <summary>The LVs valid operations act on; the caller removes them afterwards.</summary>
    public static readonly string[] Pool = ["fz0", "fz1", "fz2", "fz3", "fz4", "fz5"];

    private static readonly string[] Verbs = ["extend", "reduce", "activate", "deactivate", "rename", "snapshot", "merge", "tags"];

    public string Surface => "api";

    public FuzzCase Make(int index, Random r)
    {
        ArgumentNullException.ThrowIfNull(r);
        var roll = r.Next(1000);
        return roll switch
        {
            < 300 => HostileName(index, r),
            < 550 => HostileField(index, r),
            < 680 => NotJson(index, r),
            < 710 => WrongContentType(index, r),
            < 780 => WrongRoute(index, r),
            < 830 => HostileQuery(index, r),
            < 920 => Garbage(index, r, token),
            < 990 => NoToken(index, r),
            // Megabytes through the lab's network, and valid operations (LVM, seconds each in the
            // lab): a few in a thousand keep a run of 10,000 within minutes.
            < 992 => Oversized(index, r),
            < 998 => Valid(index, r),
            _ => Valid(index, r) with { Kind = "twice", Twice = true },
        };
    }

    private static string Pooled(Random r) => Pool[r.Next(Pool.Length)];

    private static string Path(string name, bool raw) => raw ? name : Uri.EscapeDataString(name);

    private FuzzCase WithBody(int index, string kind, Expect expect, string method, string target, string json) =>
        new(index, kind, expect, RawHttp.Request(method, target, token, "application/json", Encoding.UTF8.GetBytes(json)));

    /// <summary>A valid body for the route of <paramref name="verb"/> (names from the pool).</summary>
    private string ValidBody(string verb, Random r) => verb switch
    {
        "extend" => $"{{\"size\":\"+{r.Next(1, 3) * 4}M\"}}",
        "reduce" => "{\"size\":\"4M\"}",
        "activate" => $"{{\"host\":{Json(hosts[r.Next(hosts.Count)])},\"exclusive\":{(r.Next(3) > 0 ? "true" : "false")}}}",
        "deactivate" => r.Next(2) == 0 ? "{}" : $"{{\"host\":{Json(hosts[r.Next(hosts.Count)])}}}",
        "rename" => $"{{\"newName\":{Json(Pooled(r))}}}",
        "snapshot" => $"{{\"name\":{Json(Pooled(r))},\"size\":\"4M\"}}",
        "tags" => "{\"add\":[\"fuzz\"],\"remove\":[]}",
        _ => "{}",
    };

    private FuzzCase HostileName(int index, Random r)
    {
        var name = InPath(r, LvName);
        // Raw (unescaped) names break the request line when they hold spaces or controls: then any 4xx or a close is right.
        // Not when the name would make it another request: '?' or '#' end the path (the rest is
        // a query), and a space or a tab ends the request target (Kestrel reads "/v1/lvs/9\tx" as
        // a request for LV 9; seen in the lab). Nor when a character is beyond Latin-1: the request
        // is written in Latin-1, which sends such a character as '?' ("a\u202eb" went out as
        // "DELETE /v1/lvs/a?b", a valid remove of LV "a", answered 503 once under load: CI of b1f218c).
        var raw = r.Next(10) == 0 && name.IndexOfAny(['?', '#', ' ', '\t']) < 0 && name.All(c => c <= '\xff');
        var p = Path(name, raw);
        var expect = raw ? Expect.Garbage : Expect.Refused;
        var verb = Verbs[r.Next(Verbs.Length)];
        return r.Next(6) switch
        {
            0 => new FuzzCase(index, "name", expect, RawHttp.Request("GET", $"/v1/lvs/{p}", token)),
            1 => new FuzzCase(index, "name", expect, RawHttp.Request("DELETE", $"/v1/lvs/{p}", token)),
            2 => new FuzzCase(index, "name", expect, RawHttp.Request("POST", $"/v1/lvs/{p}/{(r.Next(2) == 0 ? "unfence" : "backup")}", token)),
            3 => new FuzzCase(index, "name", expect, RawHttp.Request("GET", $"/v1/lvs/{p}/delta", token)),
            _ => WithBody(index, "name", expect, "POST", $"/v1/lvs/{p}/{verb}", ValidBody(verb, r)),
        };
    }

    private FuzzCase HostileField(int index, Random r)
    {
        var lv = Pooled(r);
        var op = r.Next(8) == 0 ? $",\"operationId\":{Json(OperationId(r))}" : "";
        string S(string s) => Json(s);
        return r.Next(11) switch
        {
            0 => WithBody(index, "field", Expect.Refused, "POST", "/v1/lvs", r.Next(3) switch
            {
                0 => $"{{\"name\":{S(LvName(r))},\"size\":\"8M\"{op}}}",
                1 => $"{{\"name\":{S(lv)},\"size\":{S(AbsoluteSize(r))}{op}}}",
                _ => $"{{\"name\":{S(lv)},\"size\":\"8M\",\"tags\":[\"ok\",{S(Tag(r))}]{op}}}",
            }),
            1 => WithBody(index, "field", Expect.Refused, "POST", $"/v1/lvs/{lv}/extend", $"{{\"size\":{S(r.Next(4) == 0 ? "-" + r.Next(1, 9) + "M" : Size(r))}{op}}}"),
            2 => WithBody(index, "field", Expect.Refused, "POST", $"/v1/lvs/{lv}/reduce", $"{{\"size\":{S(r.Next(4) == 0 ? "+" + r.Next(1, 9) + "M" : Size(r))}{op}}}"),
            3 => WithBody(index, "field", Expect.Refused, "POST", $"/v1/lvs/{lv}/activate", $"{{\"host\":{S(Host(r))}{op}}}"),
            4 => WithBody(index, "field", Expect.Refused, "POST", $"/v1/lvs/{lv}/deactivate", $"{{\"host\":{S(Host(r))}{op}}}"),
            5 => WithBody(index, "field", Expect.Refused, "POST", $"/v1/lvs/{lv}/rename", $"{{\"newName\":{S(LvName(r))}{op}}}"),
            6 => WithBody(index, "field", Expect.Refused, "POST", $"/v1/lvs/{lv}/snapshot", r.Next(3) switch
            {
                0 => $"{{\"name\":{S(LvName(r))},\"size\":\"4M\"{op}}}",
                1 => $"{{\"name\":{S(Pooled(r))},\"size\":{S(AbsoluteSize(r))}{op}}}",
                _ => $"{{\"name\":{S(Pooled(r))},\"size\":\"4M\",\"chunkSize\":{S(r.Next(2) == 0 ? Pick(r, "2K", "3K", "1M", "6K", "0", "1023b", "-4K") : Size(r))}}}",
            }),
            7 => WithBody(index, "field", Expect.Refused, "POST", $"/v1/lvs/{lv}/tags", r.Next(2) == 0 ? $"{{\"add\":[{S(Tag(r))}]{op}}}" : $"{{\"remove\":[{S(Tag(r))}]}}"),
            8 when op.Length > 0 => WithBody(index, "field", Expect.Refused, "POST", $"/v1/lvs/{lv}/merge", $"{{{op[1..]}}}"),
            9 => WithBody(index, "field", Expect.Refused, "PUT", $"/v1/lls/quotas/{Path(Host(r), false)}/c1", "{\"maxVolumes\":\"3\"}"),
            _ => WithBody(index, "field", Expect.Refused, "PUT", "/v1/lls/quotas/node3/c9", r.Next(2) == 0
                ? $"{{\"{Pick(r, "maxBytes", "maxSnapshotBytes")}\":{S(Size(r))}}}"
                : $"{{\"{Pick(r, "maxVolumes", "maxSnapshots")}\":{S(Pick(r, "-1", "1.5", "abc", "99999999999999999999", "", "1e3", "0x10", "3M", " 3;"))}}}"),
        };
    }

    /// <summary>A body that is not JSON, or JSON of the wrong shape: a field of the wrong type.</summary>
    private FuzzCase NotJson(int index, Random r)
    {
        var lv = Pooled(r);
        if (r.Next(2) == 0)
        {
            var target = r.Next(3) == 0 ? "/v1/lvs" : $"/v1/lvs/{lv}/{Verbs[r.Next(Verbs.Length)]}";
            return new FuzzCase(index, "json", Expect.Refused, RawHttp.Request("POST", target, token, "application/json", NotABody(r)));
        }

        var wrong = Pick(r, "1", "[1]", "{}", "true", "[\"a\",[\"b\"]]");
        var noBool = Pick(r, "\"yes\"", "1", "[]", "{}");
        return r.Next(7) switch
        {
            0 => WithBody(index, "json", Expect.Refused, "POST", "/v1/lvs", r.Next(2) == 0 ? $"{{\"name\":{wrong},\"size\":\"8M\"}}" : $"{{\"name\":\"{lv}\",\"size\":{wrong}}}"),
            1 => WithBody(index, "json", Expect.Refused, "POST", "/v1/lvs", $"{{\"name\":\"{lv}\",\"size\":\"8M\",\"tags\":{(r.Next(2) == 0 ? "\"fuzz\"" : "[1,2]")}}}"),
            2 => WithBody(index, "json", Expect.Refused, "POST", $"/v1/lvs/{lv}/extend", $"{{\"size\":{wrong}}}"),
            3 => WithBody(index, "json", Expect.Refused, "POST", $"/v1/lvs/{lv}/activate", $"{{\"exclusive\":{noBool}}}"),
            4 => WithBody(index, "json", Expect.Refused, "POST", $"/v1/lvs/{lv}/activate", $"{{\"wait\":{noBool}}}"),
            5 => WithBody(index, "json", Expect.Refused, "POST", $"/v1/lvs/{lv}/rename", $"{{\"newName\":{wrong}}}"),
            _ => WithBody(index, "json", Expect.Refused, "POST", $"/v1/lvs/{lv}/tags", $"{{\"add\":{(r.Next(2) == 0 ? "\"fuzz\"" : "[{}]")}}}"),
        };
    }

    private FuzzCase WrongContentType(int index, Random r)
    {
        var type = Pick(r, null, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml");
        return new FuzzCase(index, "content-type", Expect.Refused,
            RawHttp.Request("POST", "/v1/lvs", token, type, Encoding.UTF8.GetBytes($"{{\"name\":\"{Pooled(r)}\",\"size\":\"8M\"}}")));
    }

    /// <summary>A method the route does not take, or a path no route has.</summary>
    private FuzzCase WrongRoute(int index, Random r)
    {
        var lv = Pooled(r);
        var (method, target) = r.Next(14) switch
        {
            0 => ("PUT", "/v1/lvs"),
            1 => ("PATCH", $"/v1/lvs/{lv}"),
            2 => ("GET", $"/v1/lvs/{lv}/extend"),
            3 => ("DELETE", "/v1/lvs"),
            4 => ("FOO", "/v1/lvs"),
            5 => ("OPTIONS", "/v1/lvs"),
            6 => ("GET", "/v1/cluster/form"),
            7 => ("POST", "/v1/cluster/status"),
            8 => ("GET", "/v2/lvs"),
            9 => ("POST", $"/v1/lvs/{lv}/explode"),
            10 => ("POST", $"/v1/lvs/{lv}/extend/more"),
            11 => ("GET", "/v1/internal/steps"),
            12 => ("DELETE", "/v1/hosts/node1"),
            _ => ("GET", "/admin"),
        };
        return new FuzzCase(index, "route", Expect.Refused, RawHttp.Request(method, target, token, "application/json", "{}"u8.ToArray()));
    }

    private FuzzCase HostileQuery(int index, Random r)
    {
        var lv = Pooled(r);
        static string q(string s) => Uri.EscapeDataString(s);
        var (method, target) = r.Next(9) switch
        {
            0 => ("GET", $"/v1/events?after={Pick(r, "abc", "99999999999999999999", "1.5", "", "0x10")}"),
            1 => ("GET", $"/v1/events?follow={Pick(r, "maybe", "2", "yes!")}"),
            2 => ("POST", $"/v1/lvs/{lv}/backup?incremental={Pick(r, "maybe", "2", "")}"),
            3 => ("POST", $"/v1/lvs/{lv}/backup?cowSize={q(Size(r))}"),
            4 => ("POST", $"/v1/lvs/{lv}/sync?snapshot={q(LvName(r))}"),
            5 => ("POST", $"/v1/lvs/{lv}/sync?snapshot={lv}&format={Pick(r, "evil", "", "../x", "LVMSYNC2")}&relayed=maybe"),
            6 => ("GET", $"/v1/lvs/{lv}/delta?format={Pick(r, "evil", "../x", "lvmsync;x")}"),
            7 => ("GET", $"/v1/usage?template={q(LvName(r))}"),
            _ => ("DELETE", $"/v1/lvs/{lv}?operationId={q(OperationId(r))}"),
        };
        return new FuzzCase(index, "query", Expect.Refused, RawHttp.Request(method, target, token));
    }

    /// <summary>Bytes that are not (valid) HTTP. With a token, so a refusal is for the bytes, not for the missing token.</summary>
    internal static FuzzCase Garbage(int index, Random r, string? token)
    {
        var auth = token is null ? "" : $"Authorization: Bearer {token}\r\n";
        byte[] A(string s) => Encoding.Latin1.GetBytes(s);
        var (bytes, halfClose) = r.Next(14) switch
        {
            0 => (Bytes(r, r.Next(1, 300)), true),
            1 => (A("GARBAGE\r\n\r\n"), false),
            2 => (A("GET /v1/lvs HTTP/9.9\r\nHost: x\r\n\r\n"), false),
            3 => (A("GET /v1/lvs HTTP/1.1\r\n" + auth + "\r\n"), false), // no Host
            4 => (A("GET /v1/lvs HTTP/1.1\r\nHost: x\r\n" + auth + "Bad Header\r\n\r\n"), false),
            5 => (A("GET /v1/lvs HTTP/1.1\r\nHost: x\r\n" + auth + "X-Big: " + new string('a', r.Next(40_000, 90_000)) + "\r\n\r\n"), false),
            6 => (A("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), true),
            7 => (A("POST /v1/lvs HTTP/1.1\r\nHost: x\r\n" + auth + "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"), false),
            8 => (A("POST /v1/lvs HTTP/1.1\r\nHost: x\r\n" + auth + "Content-Type: application/json\r\nContent-Length: -1\r\n\r\n{}"), true),
            9 => (A("POST /v1/lvs HTTP/1.1\r\nHost: x\r\n" + auth + "Content-Type: application/json\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), true),
            10 => (A("POST /v1/lvs HTTP/1.1\r\nHost: x\r\n" + auth + "Content-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"name\":"), true),
            11 => (A("GET /v1/lvs\0 HTTP/1.1\r\nHost: x\r\n" + auth + "\r\n"), false),
            12 => (A("GET /v1/lvs HTTP/1.1\r\nHost: x\r\nHost: y\r\n" + auth + "\r\n"), false),
            _ => (A("GET " + new string('/', r.Next(9000, 20000)) + " HTTP/1.1\r\nHost: x\r\n" + auth + "\r\n"), false),
        };
        return new FuzzCase(index, "garbage", Expect.Garbage, bytes, halfClose);
    }

    /// <summary>Any request, valid ones that would change things included, without the right token.</summary>
    private FuzzCase NoToken(int index, Random r)
    {
        var lv = Pooled(r);
        var bad = Pick(r, null, "", "wrong", token + "x", token[..^1], "x" + token);
        var header = r.Next(8) == 0 ? ["Authorization: Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("root:" + token))] : Array.Empty<string>();
        var (method, target, body) = r.Next(6) switch
        {
            0 => ("POST", "/v1/lvs", $"{{\"name\":\"{lv}\",\"size\":\"8M\"}}"),
            1 => ("DELETE", $"/v1/lvs/{lv}", ""),
            2 => ("POST", "/v1/cluster/form", ""),
            3 => ("POST", "/v1/internal/steps", "{}"),
            4 => ("GET", "/v1/lvs", ""),
            _ => ("POST", $"/v1/lvs/{lv}/activate", "{}"),
        };
        return new FuzzCase(index, "token", Expect.Unauthorized, header.Length > 0
            ? RawHttp.Request(method, target, null, "application/json", Encoding.UTF8.GetBytes(body), header)
            : RawHttp.Request(method, target, bad, "application/json", Encoding.UTF8.GetBytes(body)));
    }

    private FuzzCase Oversized(int index, Random r) =>
        WithBody(index, "oversized", Expect.Refused, "POST", "/v1/lvs", $"{{\"name\":\"{new string('x', r.Next(1 << 20, 3 << 20))}\",\"size\":\"8M\"}}");

    /// <summary>Operations on the pool, and reads: each may succeed or be refused for the state it meets, never fail.</summary>
    private FuzzCase Valid(int index, Random r)
    {
        var lv = Pooled(r);
        var roll = r.Next(20);
        if (roll < 6)
        {
            var target = new[] { "/v1/cluster/status", "/v1/hosts", $"/v1/hosts/{hosts[r.Next(hosts.Count)]}", "/v1/lls/quotas", "/v1/events?after=999999999", $"/v1/lvs/{lv}" }[roll];
            return new FuzzCase(index, "valid", Expect.Any, RawHttp.Request("GET", target, token));
        }

        if (roll < 10)
        {
            var id = r.Next(2) == 0 ? $",\"operationId\":\"fuzz-{index}\"" : "";
            return WithBody(index, "valid", Expect.Any, "POST", "/v1/lvs", $"{{\"name\":\"{lv}\",\"size\":\"{r.Next(1, 5) * 4}M\"{id}}}");
        }

        if (roll < 12)
        {
            return new FuzzCase(index, "valid", Expect.Any, RawHttp.Request("DELETE", $"/v1/lvs/{lv}", token));
        }

        var verb = Verbs[r.Next(Verbs.Length)];
        return WithBody(index, "valid", Expect.Any, "POST", $"/v1/lvs/{lv}/{verb}", ValidBody(verb, r));
    }
}
