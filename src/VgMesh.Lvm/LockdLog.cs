using System.Collections.Immutable;
using System.Globalization;
using System.Text.RegularExpressions;

namespace VgMesh.Lvm;

/// <summary>
/// A lock request lvmlockd refused on this host: nothing of the command that asked was done
/// under it (LVM stops the command when its VG or LV lock fails).
/// </summary>
/// <param name="At">When lvmlockd answered (its log's clock, whole seconds).</param>
/// <param name="Command">The LVM command's name as it told lvmlockd (<c>lvextend</c>, <c>lvchange</c>...).</param>
/// <param name="Pid">The command's process id on this host.</param>
/// <param name="Lock"><c>lv</c>, <c>vg</c> or <c>gl</c> (the global lock).</param>
/// <param name="Lv">The LV's name for an LV lock, when lvmlockd logged it.</param>
/// <param name="Mode">The mode asked for: <c>ex</c> or <c>sh</c>.</param>
/// <param name="Result">lvmlockd's result: -11 (EAGAIN) when another host holds the lock.</param>
public sealed record LockRefusal(DateTimeOffset At, string Command, int Pid, string Lock, string? Lv, string Mode, int Result)
{
    /// <summary>What the result means, in the words an operator needs.</summary>
    public string Reason => Result switch
    {
        -11 => "held by another host",
        -210 => "the lockspace is not started on this host",
        -211 => "the lockspace is still starting on this host",
        -217 => "sanlock lost access to the leases: the VG is killed on this host",
        -218 => "the lock's I/O on the shared disk failed",
        _ => $"lvmlockd error {Result.ToString(CultureInfo.InvariantCulture)}",
    };
}

/// <summary>
/// lvmlockd's own log of lock requests (<c>lvmlockctl --dump</c>, lvm2-lockd 2.03.16): a 1 MiB ring
/// of lines stamped with the wall clock in seconds. A refused request shows as three lines of one
/// client connection (<c>cl N</c>), the only place a hand-run command's refusal is visible to
/// another program:
/// <code>
/// 1765100000 recv lvextend[812] cl 41 lock lv "san" mode ex flags 0
/// 1765100000 S lvm_san R 5UtLqO-0GWn-PhrJ-bdfn-NJ3j-PIAb-3T6AbR res_lock cl 41 mode ex (lk1)
/// 1765100001 send lvextend[812] cl 41 lock lv rv -11
/// </code>
/// </summary>
public static partial class LockdLog
{
    /// <summary>Every refused lock request (not an unlock) in the dump, oldest first.</summary>
    public static ImmutableArray<LockRefusal> Refusals(string dump)
    {
        ArgumentNullException.ThrowIfNull(dump);
        var modes = new Dictionary<string, string>(StringComparer.Ordinal);
        var lvs = new Dictionary<string, string?>(StringComparer.Ordinal);
        var found = ImmutableArray.CreateBuilder<LockRefusal>();
        foreach (var raw in dump.Split('\n'))
        {
            var line = raw.TrimEnd('\r', '\0');
            if (Recv().Match(line) is { Success: true } recv)
            {
                modes[recv.Groups["cl"].Value] = recv.Groups["mode"].Value;
            }
            else if (ResLock().Match(line) is { Success: true } res)
            {
                lvs[res.Groups["cl"].Value] = res.Groups["lv"].Success ? res.Groups["lv"].Value : null;
            }
            else if (Send().Match(line) is { Success: true } send)
            {
                var cl = send.Groups["cl"].Value;
                var mode = modes.GetValueOrDefault(cl);
                var lv = lvs.GetValueOrDefault(cl);
                modes.Remove(cl);
                lvs.Remove(cl);
                var rv = int.Parse(send.Groups["rv"].Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
                if (send.Groups["op"].Value != "lock" || rv >= 0 || mode is null or "un" or "nl")
                {
                    continue;
                }

                found.Add(new LockRefusal(
                    DateTimeOffset.FromUnixTimeSeconds(long.Parse(send.Groups["t"].Value, CultureInfo.InvariantCulture)),
                    send.Groups["cmd"].Value,
                    int.Parse(send.Groups["pid"].Value, CultureInfo.InvariantCulture),
                    send.Groups["rt"].Value,
                    send.Groups["rt"].Value == "lv" ? lv : null,
                    mode,
                    rv));
            }
        }

        return found.ToImmutable();
    }

    [GeneratedRegex("""^(?<t>\d+) recv (?<cmd>[^\[\s]+)\[(?<pid>\d+)\] cl (?<cl>\d+) (?<op>\S+) (?<rt>\S+) "[^"]*" mode (?<mode>\S+)""")]
    private static partial Regex Recv();

    [GeneratedRegex("""^(?<t>\d+) S \S+ R \S+ res_lock cl (?<cl>\d+) mode \S+(?: \((?<lv>[^)]+)\))?""")]
    private static partial Regex ResLock();

    [GeneratedRegex("""^(?<t>\d+) send (?<cmd>[^\[\s]+)\[(?<pid>\d+)\] cl (?<cl>\d+) (?<op>\S+) (?<rt>\S+) rv (?<rv>-?\d+)""")]
    private static partial Regex Send();
}
