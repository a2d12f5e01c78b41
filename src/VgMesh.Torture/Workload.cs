namespace VgMesh.Torture;

/// <summary>
/// The operations clients send: a small pool of LV names so that clients contend for the same
/// LVs (most requests then meet a state someone else just changed, and many are refused, as
/// they should be). <c>tx*</c> LVs are only ever activated exclusively, <c>ts*</c> only shared,
/// so that the checker knows which may be live on two hosts.
/// </summary>
public sealed partial class Workload(Random random, IReadOnlyList<string> hosts)
{
    private static readonly string[] Exclusive = ["tx0", "tx1", "tx2", "tx3", "tx4", "tx5"];
    private static readonly string[] Shared = ["ts0", "ts1", "ts2"];

    // Weights: activations and handoffs are what the exclusivity promise is about, so most.
    private static readonly (string Kind, int Weight)[] Kinds =
    [
        ("create", 10), ("extend", 8), ("reduce", 4), ("remove", 6), ("rename", 3), ("snapshot", 5), ("merge", 2),
        ("activate", 22), ("activate-shared", 8), ("deactivate", 12),
    ];

    private static readonly int Total = Kinds.Sum(k => k.Weight);

    /// <summary>Whether an LV is one the workload makes (its pools and their snapshots): what the checker compares.</summary>
    public static bool Owns(string lv) => OwnedName().IsMatch(lv);

    [System.Text.RegularExpressions.GeneratedRegex(@"^t[xs][0-9]+s?\z")]
    private static partial System.Text.RegularExpressions.Regex OwnedName();

    public TortureOp Next()
    {
        var roll = random.Next(Total);
        var kind = Kinds.First(k => (roll -= k.Weight) < 0).Kind;
        var shared = kind == "activate-shared" || (kind != "activate" && kind != "snapshot" && kind != "merge" && random.Next(4) == 0);
        var pool = shared ? Shared : Exclusive;
        var lv = pool[random.Next(pool.Length)];
        var host = hosts[random.Next(hosts.Count)];
        return kind switch
        {
            "create" => new TortureOp(kind, lv, "8M"),
            "extend" => new TortureOp(kind, lv, "+4M"),
            "reduce" => new TortureOp(kind, lv, "-4M"),
            "rename" => new TortureOp(kind, lv, pool[random.Next(pool.Length)]),
            "snapshot" => new TortureOp(kind, lv, lv + "s"),
            "merge" => new TortureOp(kind, lv + "s"),
            "activate" or "activate-shared" => new TortureOp(kind, lv, Host: host),
            "deactivate" => new TortureOp(kind, lv, Host: shared && random.Next(2) == 0 ? host : null),
            _ => new TortureOp(kind, lv),
        };
    }
}
