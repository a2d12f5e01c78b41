using System.Collections.Immutable;
using System.Text.Json.Serialization;

namespace VgMesh.Cluster.Coordinator;

public enum OperationPhase { Queued, Started, Completed }

/// <param name="Sequence">Orders submissions cluster-wide; the queue runs in this order.</param>
/// <param name="StartedGeneration">The lease generation the operation was last started under (0 while queued).</param>
public sealed record OperationEntry(
    OperationRequest Request,
    long Sequence,
    DateTimeOffset SubmittedAt,
    OperationPhase Phase,
    long StartedGeneration,
    OperationResult? Result);

/// <summary>A change to the claims that the claim rules refuse.</summary>
public sealed record ClaimConflict(string Lv, ImmutableSortedSet<string> Holders, string Reason);

/// <summary>
/// The coordinator's whole state: the operation queue with every result, the claims, and the
/// numbered event sequence. Immutable; <see cref="Apply"/> is the only way it changes, used alike
/// by the running coordinator and by recovery from the journal, so both reach the same state.
/// </summary>
public sealed record CoordinatorState(
    long Generation,
    long NextOperationSequence,
    long LastEventSequence,
    ImmutableDictionary<string, OperationEntry> Operations,
    ImmutableSortedDictionary<long, string> Pending,
    ImmutableDictionary<string, Claim> Claims) : IClusterMessage
{
    public static CoordinatorState Empty { get; } = new(
        0,
        1,
        0,
        ImmutableDictionary<string, OperationEntry>.Empty.WithComparers(StringComparer.Ordinal),
        ImmutableSortedDictionary<long, string>.Empty,
        ImmutableDictionary<string, Claim>.Empty.WithComparers(StringComparer.Ordinal));

    /// <summary>
    /// The journal's marks: the entries up to each journal sequence number were all written before
    /// its time. An init property, not a constructor parameter, so a snapshot written before marks
    /// existed reads as having none (the source-generated reader sets a missing one to null).
    /// </summary>
    public ImmutableSortedDictionary<long, DateTimeOffset> Marks
    {
        get => _marks;
        init => _marks = value ?? ImmutableSortedDictionary<long, DateTimeOffset>.Empty;
    }

    private readonly ImmutableSortedDictionary<long, DateTimeOffset> _marks = ImmutableSortedDictionary<long, DateTimeOffset>.Empty;

    /// <summary>The sanlock host id of each host of an lvmlockd VG (an init property for the same reason as <see cref="Marks"/>).</summary>
    public ImmutableSortedDictionary<string, int> LockHostIds
    {
        get => _lockHostIds;
        init => _lockHostIds = value ?? ImmutableSortedDictionary<string, int>.Empty.WithComparers(StringComparer.Ordinal);
    }

    private readonly ImmutableSortedDictionary<string, int> _lockHostIds = ImmutableSortedDictionary<string, int>.Empty.WithComparers(StringComparer.Ordinal);

    /// <summary>sanlock's host ids run from 1 to 2000.</summary>
    public const int MaxLockHostId = 2000;

    /// <summary>
    /// The host id <paramref name="host"/> gets (<see cref="AssignLockHostId"/>), and whether it is
    /// new (to be recorded); no id and no refusal: ask again shortly. Two hosts with one id would
    /// each take the other's sanlock leases for their own: a proposal that is another host's is
    /// refused, never taken over. A free id is handed out only once every host in
    /// <paramref name="unregistered"/> (members that have not asked yet) has asked: a host whose
    /// id was set by hand (the one that made the shared VG, say) already runs the lockspace under
    /// it, and must be recorded before its id could be given to another (the lab saw node3 given
    /// node1's id 1 that way, on 2026-12-07).
    /// </summary>
    public (int? HostId, bool IsNew, string? Refusal) DecideLockHostId(string host, int? proposed, IReadOnlyCollection<string>? unregistered = null)
    {
        if (LockHostIds.TryGetValue(host, out var known))
        {
            return proposed is { } p && p != known
                ? (null, false, $"{host} has host_id {p} in its lvmlocal.conf, but the cluster recorded host_id {known} for it; set host_id = {known} there (or remove the line), then restart the agent")
                : (known, false, null);
        }

        var owner = proposed is { } q ? LockHostIds.FirstOrDefault(kv => kv.Value == q).Key : null;
        if (proposed is < 1 or > MaxLockHostId)
        {
            return (null, false, $"{host} has host_id {proposed} in its lvmlocal.conf, outside sanlock's 1-{MaxLockHostId}; remove the line and the cluster assigns one");
        }

        if (owner is not null)
        {
            return (null, false, $"{host} has host_id {proposed} in its lvmlocal.conf, but that is {owner}'s; two hosts with one id would take each other's sanlock leases. Remove the line on {host} and the cluster assigns a free one");
        }

        if (proposed is { } free)
        {
            return (free, true, null);
        }

        if (unregistered?.Any(h => h != host && !LockHostIds.ContainsKey(h)) == true)
        {
            return (null, false, null);
        }

        var taken = LockHostIds.Values.ToHashSet();
        for (var id = 1; id <= MaxLockHostId; id++)
        {
            if (!taken.Contains(id))
            {
                return (id, true, null);
            }
        }

        return (null, false, $"all {MaxLockHostId} sanlock host ids are recorded for other hosts; no id is left for {host}");
    }

    /// <summary>The newest journal sequence number whose entries all fall before <paramref name="before"/> (0 when none is known).</summary>
    public long JournalWrittenBefore(DateTimeOffset before) => Marks.Where(m => m.Value < before).Select(m => m.Key).DefaultIfEmpty(0).Max();

    /// <summary>True when there is history older than <paramref name="before"/> to forget: a completed operation or a mark.</summary>
    public bool HasHistoryBefore(DateTimeOffset before) =>
        Marks.Any(m => m.Value < before) || Operations.Values.Any(o => o.Result is { } r && r.CompletedAt < before);

    /// <summary>The next operation to run, in submission order, or null.</summary>
    [JsonIgnore]
    public OperationEntry? NextPending => Pending.IsEmpty ? null : Operations[Pending.First().Value];

    /// <summary>
    /// The state after <paramref name="e"/>. An event written under an older generation than one
    /// already applied is a stale coordinator's write and changes nothing: the journal's unique
    /// sequence numbers already keep such writes out, this keeps recovery fenced as well.
    /// </summary>
    public CoordinatorState Apply(ICoordinatorEvent e)
    {
        if (e.Generation < Generation)
        {
            return this;
        }

        var s = e.Generation > Generation ? this with { Generation = e.Generation } : this;
        return e switch
        {
            CoordinatorStarted => s,
            OperationAccepted a => s.Accept(a),
            OperationStarted st => s.Start(st),
            OperationCompleted c => s.Complete(c),
            HistoryMarked m => s with { Marks = s.Marks.SetItem(m.JournalSequenceNr, m.At) },
            HistoryPruned p => s.Prune(p.Before),
            LockHostIdRecorded h => s with { LockHostIds = s.LockHostIds.SetItem(h.Host, h.HostId) },
            _ => throw new ArgumentException($"unknown coordinator event {e.GetType().Name}", nameof(e)),
        };
    }

    private CoordinatorState Accept(OperationAccepted a)
    {
        if (Operations.ContainsKey(a.Request.Id))
        {
            return this;
        }

        var entry = new OperationEntry(a.Request, NextOperationSequence, a.At, OperationPhase.Queued, 0, null);
        return this with
        {
            NextOperationSequence = NextOperationSequence + 1,
            Operations = Operations.Add(a.Request.Id, entry),
            Pending = Pending.Add(entry.Sequence, a.Request.Id),
        };
    }

    private CoordinatorState Start(OperationStarted st) =>
        Operations.TryGetValue(st.Id, out var op) && op.Phase != OperationPhase.Completed
            ? this with { Operations = Operations.SetItem(st.Id, op with { Phase = OperationPhase.Started, StartedGeneration = st.Generation }) }
            : this;

    private CoordinatorState Complete(OperationCompleted c)
    {
        if (c.Request is { } ranOutside && !Operations.ContainsKey(ranOutside.Id))
        {
            return Accept(new OperationAccepted(ranOutside, c.Generation, c.At)).Complete(c with { Request = null });
        }

        if (!Operations.TryGetValue(c.Result.Id, out var op) || op.Phase == OperationPhase.Completed)
        {
            return this;
        }

        var claims = Claims;
        foreach (var change in c.Claims)
        {
            claims = ApplyClaim(claims, change, c.Generation, c.At);
        }

        return this with
        {
            LastEventSequence = LastEventSequence + c.Events.Length,
            Operations = Operations.SetItem(op.Request.Id, op with { Phase = OperationPhase.Completed, Result = c.Result }),
            Pending = Pending.Remove(op.Sequence),
            Claims = claims,
        };
    }

    /// <summary>
    /// Forgets completed operations and marks older than <paramref name="before"/>. Queued and
    /// running operations stay whatever their age, and so do the claims and the event count:
    /// they are the present, not history.
    /// </summary>
    private CoordinatorState Prune(DateTimeOffset before)
    {
        var old = Operations.Values.Where(o => o.Phase == OperationPhase.Completed && o.Result is { } r && r.CompletedAt < before).Select(o => o.Request.Id).ToList();
        return this with
        {
            Operations = Operations.RemoveRange(old),
            Marks = Marks.RemoveRange(Marks.Where(m => m.Value < before).Select(m => m.Key)),
        };
    }

    private static ImmutableDictionary<string, Claim> ApplyClaim(ImmutableDictionary<string, Claim> claims, ClaimChange change, long generation, DateTimeOffset at)
    {
        claims.TryGetValue(change.Lv, out var current);
        switch (change.Kind)
        {
            case ClaimChangeKind.Grant when change.Mode == ClaimMode.Shared && current is { Mode: ClaimMode.Shared }:
                return claims.SetItem(change.Lv, current with { Hosts = current.Hosts.Add(change.Host) });
            case ClaimChangeKind.Grant:
            case ClaimChangeKind.Handoff:
                return claims.SetItem(change.Lv, new Claim(change.Lv, change.Kind == ClaimChangeKind.Handoff ? ClaimMode.Exclusive : change.Mode, [change.Host], generation, at));
            case ClaimChangeKind.Release when current is not null:
                // A claim with no host stays: the LV is managed and wanted inactive everywhere
                // (no claim at all leaves it to whoever activates it by hand).
                return claims.SetItem(change.Lv, current with { Hosts = current.Hosts.Remove(change.Host) });
            case ClaimChangeKind.Drop:
                return claims.Remove(change.Lv);
            case ClaimChangeKind.Move when change.From is { } from && claims.TryGetValue(from, out var moved):
                return claims.Remove(from).SetItem(change.Lv, moved with { Lv = change.Lv });
            default:
                return claims;
        }
    }

    /// <summary>
    /// Checks changes against the claim rules, in order, as they would be applied: never two
    /// exclusive holders, never exclusive beside shared, a handoff only from the exclusive holder.
    /// Returns the first conflict, or null when all of them may be applied.
    /// </summary>
    public ClaimConflict? CheckClaims(IEnumerable<ClaimChange> changes)
    {
        var claims = Claims;
        foreach (var change in changes)
        {
            claims.TryGetValue(change.Lv, out var current);
            var holders = current?.Hosts ?? [];
            var conflict = change.Kind switch
            {
                ClaimChangeKind.Grant when current is null || holders.IsEmpty => null,
                ClaimChangeKind.Grant when change.Mode == ClaimMode.Exclusive && current.Mode == ClaimMode.Exclusive && holders.SetEquals([change.Host]) => null,
                ClaimChangeKind.Grant when change.Mode == ClaimMode.Exclusive =>
                    $"it is active {Describe(current)}; deactivate it there first, or hand it off",
                ClaimChangeKind.Grant when current.Mode == ClaimMode.Exclusive =>
                    $"it is active exclusively on {string.Join(", ", holders)}; deactivate it there before activating it shared",
                ClaimChangeKind.Grant => null,
                ClaimChangeKind.Handoff when current is { Mode: ClaimMode.Exclusive } && holders.SetEquals([change.From!]) => null,
                ClaimChangeKind.Handoff => $"a handoff from {change.From} needs {change.From} to hold it exclusively, but it is {(current is null ? "not claimed" : "active " + Describe(current))}",
                ClaimChangeKind.Release when holders.Contains(change.Host) => null,
                ClaimChangeKind.Release => $"{change.Host} does not hold it",
                _ => null,
            };
            if (conflict is not null)
            {
                return new ClaimConflict(change.Lv, holders, conflict);
            }

            claims = ApplyClaim(claims, change, Generation, default);
        }

        return null;
    }

    private static string Describe(Claim c) => c.Mode == ClaimMode.Exclusive
        ? $"exclusively on {string.Join(", ", c.Hosts)}"
        : $"shared on {string.Join(", ", c.Hosts)}";
}
