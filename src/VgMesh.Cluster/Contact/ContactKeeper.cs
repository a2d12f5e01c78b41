using System.Globalization;
using Akka.Actor;
using VgMesh.Cluster.Coordinator;

namespace VgMesh.Cluster.Contact;

/// <summary>
/// When this host last knew the coordinator could hear it: the send time of the last ping the
/// coordinator answered. The coordinator received that ping after it was sent, so it has heard
/// this host at least that recently: a host that fences at <c>LastContact + FenceAfter</c> has
/// fenced before a coordinator that waits <c>FenceAfter + grace</c> after the last message it
/// received gives the host's LVs to another. Kept on disk as well (wall clock), so an agent that
/// restarts while cut off still knows how long it has been.
/// </summary>
public sealed class ContactClock(TimeProvider time, string? statePath)
{
    private readonly long _created = time.GetTimestamp();
    private long _lastContact = long.MinValue;

    /// <summary>Time since the last answered ping; since the last one on disk (or this clock's creation) when there was none in this process.</summary>
    public TimeSpan SinceContact
    {
        get
        {
            var at = Interlocked.Read(ref _lastContact);
            if (at != long.MinValue)
            {
                return time.GetElapsedTime(at);
            }

            var sinceStart = time.GetElapsedTime(_created);
            return Saved() is { } saved && time.GetUtcNow() - saved > sinceStart ? time.GetUtcNow() - saved : sinceStart;
        }
    }

    /// <summary>Raised (on an actor's thread: keep it short) when the coordinator's answer asks for this host's report, which it lacks.</summary>
    public event EventHandler? ReportWanted;

    internal void RaiseReportWanted() => ReportWanted?.Invoke(this, EventArgs.Empty);

    /// <summary>Whether any ping has been answered in this process.</summary>
    public bool EverInContact => Interlocked.Read(ref _lastContact) != long.MinValue;

    /// <summary>A ping sent at <paramref name="sentAt"/> (a timestamp of this clock's time provider) was answered.</summary>
    public void Answered(long sentAt)
    {
        long seen;
        do
        {
            seen = Interlocked.Read(ref _lastContact);
            if (seen != long.MinValue && seen >= sentAt)
            {
                return;
            }
        }
        while (Interlocked.CompareExchange(ref _lastContact, sentAt, seen) != seen);

        if (statePath is not null)
        {
            // The wall-clock moment of the send, for an agent restarted later: written whole, then renamed.
            var wall = time.GetUtcNow() - time.GetElapsedTime(sentAt);
            File.WriteAllText(statePath + ".tmp", wall.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture));
            File.Move(statePath + ".tmp", statePath, overwrite: true);
        }
    }

    private DateTimeOffset? Saved()
    {
        try
        {
            return statePath is not null && File.Exists(statePath) && long.TryParse(File.ReadAllText(statePath).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var ms)
                ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null;
        }
        catch (IOException)
        {
            return null;
        }
    }
}

/// <summary>Pings the coordinator at a fixed interval and records each answer on the <see cref="ContactClock"/>.</summary>
public sealed class ContactKeeper : ReceiveActor, IWithTimers
{
    private readonly string _host;
    private readonly IActorRef _coordinator;
    private readonly ContactClock _clock;
    private readonly TimeProvider _time;
    private readonly TimeSpan _every;
    private readonly Dictionary<long, long> _sent = [];
    private long _next;

    public ContactKeeper(string host, IActorRef coordinator, ContactClock clock, TimeProvider time, TimeSpan every)
    {
        _host = host;
        _coordinator = coordinator;
        _clock = clock;
        _time = time;
        _every = every;
        Receive<Tick>(_ => Ping());
        Receive<Answered>(a =>
        {
            if (_sent.Remove(a.Id, out var sentAt))
            {
                _clock.Answered(sentAt);
            }

            if (a.WantsReport)
            {
                _clock.RaiseReportWanted();
            }
        });
        Receive<Status.Failure>(_ => { }); // unanswered: the clock keeps the last answered send
    }

    protected override void PreStart() => Timers.StartPeriodicTimer("ping", Tick.Instance, TimeSpan.Zero, _every);

    public ITimerScheduler Timers { get; set; } = null!;

    private void Ping()
    {
        var id = _next++;
        var sentAt = _time.GetTimestamp();
        _sent[id] = sentAt;
        foreach (var old in _sent.Keys.Where(k => k < id - 30).ToList())
        {
            _sent.Remove(old); // a ping unanswered this long never will be
        }

        _coordinator.Ask<HostPong>(new HostPing(_host, _time.GetUtcNow()), TimeSpan.FromSeconds(5))
            .PipeTo(Self, success: pong => new Answered(id, pong.WantsReport), failure: e => new Status.Failure(e));
    }

    private sealed record Tick
    {
        public static Tick Instance { get; } = new();
    }

    private sealed record Answered(long Id, bool WantsReport);
}
