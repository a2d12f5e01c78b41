using System.Text;

namespace VgMesh.Proof.Fuzzing;

/// <summary>What a request must get.</summary>
public enum Expect
{
    /// <summary>Invalid input: a 4xx answer (and so nothing changed, nothing started).</summary>
    Refused,

    /// <summary>No or a wrong bearer token on TCP: 401, whatever the request.</summary>
    Unauthorized,

    /// <summary>Another container's volume: 404, the same answer as for a name nobody has.</summary>
    Hidden,

    /// <summary>
    /// A valid request: any answer but a server error (it may fail for the state it meets). A 503
    /// `no-coordinator` is allowed: an outcome unknown after the propagation timeout is the API's
    /// documented answer when the queue is long (the client resubmits with its operation id).
    /// </summary>
    Any,

    /// <summary>Not HTTP, or broken HTTP: a 4xx, or the connection closed; never accepted.</summary>
    Garbage,
}

/// <summary>One generated request; <see cref="Twice"/> sends it twice at once (concurrent duplicates).</summary>
public sealed record FuzzCase(int Index, string Kind, Expect Expect, byte[] Request, bool HalfClose = false, bool Twice = false)
{
    /// <summary>The request line and the start of the body, printable.</summary>
    public string Summary
    {
        get
        {
            var text = Encoding.Latin1.GetString(Request, 0, Math.Min(Request.Length, 600));
            var line = text.Split("\r\n")[0];
            var body = text.IndexOf("\r\n\r\n", StringComparison.Ordinal) is var i and >= 0 ? text[(i + 4)..] : "";
            var s = body.Length > 0 ? $"{line} {body}" : line;
            return Printable(s.Length > 300 ? s[..300] + $"... ({Request.Length} bytes)" : s);
        }
    }

    private static string Printable(string s)
    {
        var b = new StringBuilder(s.Length);
        foreach (var c in s)
        {
            _ = c < ' ' || c > '~' ? b.Append(System.Globalization.CultureInfo.InvariantCulture, $"\\x{(int)c:x2}") : b.Append(c);
        }

        return b.ToString();
    }
}

/// <summary>Makes the request of a given index; the same seed and index give the same bytes.</summary>
public interface ICaseSource
{
    string Surface { get; }

    FuzzCase Make(int index, Random r);
}

public static class Verdict
{
    /// <summary>
    /// The code the agent's LVM choke point answers with when an argument it would pass to a
    /// process fails its own check: seen here, input reached it that the API should have refused.
    /// </summary>
    public const string ChokePointCode = "unsafe-argument";

    private static bool IsOutcomeUnknown(Answer a) => a.Status == 503 && a.Body.Contains("\"code\":\"no-coordinator\"", StringComparison.Ordinal);

    /// <summary>Why the answer breaks the case's promise, or null when it keeps it.</summary>
    public static string? Judge(FuzzCase c, Answer a)
    {
        ArgumentNullException.ThrowIfNull(c);
        ArgumentNullException.ThrowIfNull(a);
        if (a.TimedOut)
        {
            return "no answer within the time limit";
        }

        if (a.Body.Contains(ChokePointCode, StringComparison.Ordinal))
        {
            return "the LVM choke point refused an argument: unvalidated input got as far as a process";
        }

        // 505 is HTTP's own answer to a version it does not speak.
        if (a.Status >= 500 && !(c.Expect == Expect.Garbage && a.Status == 505) && !(c.Expect == Expect.Any && IsOutcomeUnknown(a)))
        {
            return $"server error {a.Status}";
        }

        return c.Expect switch
        {
            Expect.Refused when a.Status is < 400 or > 499 => a.Status == 0 ? "closed without an answer; expected a 4xx refusal" : $"accepted ({a.Status}); expected a 4xx refusal",
            Expect.Unauthorized when a.Status != 401 => $"answered {a.Status} without a valid token; expected 401",
            Expect.Hidden when a.Status != 404 => $"answered {a.Status} for another container's volume; expected 404 as for a name nobody has",
            Expect.Any when a.Status == 0 => "closed without an answer",
            Expect.Garbage when a.Status is not 0 and (< 400 or (> 499 and not 505)) => $"accepted ({a.Status}) a request that is not valid HTTP",
            _ => null,
        };
    }
}
