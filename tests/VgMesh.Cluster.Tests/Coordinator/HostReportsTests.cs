using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.TestKit.Xunit2;
using VgMesh.Cluster.Coordinator;

namespace VgMesh.Cluster.Tests.Coordinator;

/// <summary>The hosts' reports in the coordinator: the activation guard, and a new coordinator waiting for every live host's report.</summary>
public sealed class HostReportsTests() : TestKit(TestConfig.InMemoryCoordinator)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private readonly ScriptedHandler _handler = new();

    private IActorRef Start(TestLeaseGuard lease, IActorRef publisher, IReadOnlyCollection<string> live, TimeSpan? reportWait = null) =>
        Sys.ActorOf(Props.Create(() => new CoordinatorActor(
            new CoordinatorSettings("node1", CoordinatorSettings.DefaultEventsTopic, 500, CoordinatorSettings.DefaultHostsTopic, null, reportWait ?? TimeSpan.FromSeconds(30)),
            _handler, () => lease, publisher, TimeProvider.System, () => live)));

    private static HostReport Report(string host, params string[] active) =>
        new(host, [.. active.Select(a => new ReportedLv(a, 0))], "", DateTimeOffset.UnixEpoch);

    private static async Task ClaimAsync(IActorRef c, string lv, string host) =>
        Assert.Equal(OperationStatus.Succeeded, (await c.Ask<OperationFinished>(new SubmitOperation(new OperationRequest("claim-" + lv + "-" + host, "lv.activate", "{}", host)), Wait)).Result.Status);

    [Fact]
    public async Task NewCoordinator_AsksForReports_AndRunsNothingUntilEveryLiveHostReported()
    {
        using var lease = new TestLeaseGuard(1);
        var topic = CreateTestProbe();
        var c = Start(lease, topic.Ref, ["node1", "node2"]);
        var ready = topic.FishForMessage<Publish>(p => p.Topic == CoordinatorSettings.DefaultHostsTopic, Wait);
        Assert.IsType<CoordinatorReady>(ready.Message);

        var answer = c.Ask<OperationFinished>(new SubmitOperation(new OperationRequest("op-1", "lv.create", "{}", "node2")), Wait);
        c.Tell(Report("node1"));
        await Task.Delay(500);
        Assert.Empty(_handler.Calls); // node2 has not reported

        c.Tell(Report("node2"));
        Assert.Equal(OperationStatus.Succeeded, (await answer).Result.Status);
        Assert.Single(_handler.Calls);
    }

    [Fact]
    public async Task CheckActivation_OnlyForTheClaimant_AndNotWhileAnotherHostReportsTheLv()
    {
        using var lease = new TestLeaseGuard(1);
        _handler.Behaviour = (ctx, _) => Task.FromResult(new OperationOutcome(OperationStatus.Succeeded, "ok", null, [],
            [ctx.Request.SubmittedBy == "node3" ? ClaimChange.Handoff("vm1", "node2", "node3") : ClaimChange.Grant("vm1", ctx.Request.SubmittedBy, ClaimMode.Exclusive)]));
        var c = Start(lease, CreateTestProbe().Ref, ["node2", "node3"]);
        c.Tell(Report("node2"));
        c.Tell(Report("node3"));
        await ClaimAsync(c, "vm1", "node2");

        Assert.Contains("moved to node2", (await c.Ask<ActivationVerdict>(new CheckActivation("node3", "vm1", true), Wait)).Refusal, StringComparison.Ordinal);
        var yes = await c.Ask<ActivationVerdict>(new CheckActivation("node2", "vm1", true), Wait);
        Assert.Null(yes.Refusal);
        Assert.Equal(["node2"], yes.Claim!.Hosts);

        // Handed to node3 while node2 still counts it as announced: node3 waits until node2 reports it gone.
        await ClaimAsync(c, "vm1", "node3");
        Assert.Contains("node2 still report vm1 active", (await c.Ask<ActivationVerdict>(new CheckActivation("node3", "vm1", true), Wait)).Refusal, StringComparison.Ordinal);
        c.Tell(Report("node2"));
        Assert.Null((await c.Ask<ActivationVerdict>(new CheckActivation("node3", "vm1", true), Wait)).Refusal);
    }

    [Fact]
    public async Task StorageFencing_AGoneHoldersLvMovesOnlyAfterItsRegistrationWasPreempted_AndAFailedFenceIsTriedAgain()
    {
        using var lease = new TestLeaseGuard(1);
        var gone = new System.Collections.Concurrent.ConcurrentDictionary<string, bool>();
        var fenceAnswers = new System.Collections.Concurrent.ConcurrentQueue<OperationStatus>([OperationStatus.Failed, OperationStatus.Succeeded]);
        _handler.Behaviour = (ctx, _) => Task.FromResult(ctx.Request.Kind == CoordinatorSettings.StorageFenceKind
            ? new OperationOutcome(fenceAnswers.TryDequeue(out var s) ? s : OperationStatus.Succeeded, "preempted", null, [ScriptedHandler.Event(ctx.Request.Id, "host-fenced")], [])
            : new OperationOutcome(OperationStatus.Succeeded, "ok", null, [],
                [ctx.Request.SubmittedBy == "node3" ? ClaimChange.Handoff("vm1", "node2", "node3") : ClaimChange.Grant("vm1", ctx.Request.SubmittedBy, ClaimMode.Exclusive)]));
        var topic = CreateTestProbe();
        var settings = new CoordinatorSettings("node1", CoordinatorSettings.DefaultEventsTopic, 500, CoordinatorSettings.DefaultHostsTopic, TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(30), null, null, TimeSpan.Zero, StorageFencing: true);
        string[] all = ["node2", "node3"], rest = ["node3"];
        Func<IReadOnlyCollection<string>> live = () => gone.IsEmpty ? all : rest;
        Func<string, bool> isGone = gone.ContainsKey;
        var c = Sys.ActorOf(Props.Create(() => new CoordinatorActor(settings, _handler, () => lease, topic.Ref, TimeProvider.System, live, isGone)));
        c.Tell(Report("node2", "vm1"));
        c.Tell(Report("node3"));
        await ClaimAsync(c, "vm1", "node2");
        await ClaimAsync(c, "vm1", "node3");

        // node2 goes silent past the report expiry: its report still counts.
        await Task.Delay(500);
        Assert.Contains("node2 still report vm1 active", (await c.Ask<ActivationVerdict>(new CheckActivation("node3", "vm1", true), Wait)).Refusal, StringComparison.Ordinal);

        // The cluster puts node2 out: the coordinator fences it by the storage; the first try fails,
        // and until one succeeds, vm1 stays refused to node3.
        gone["node2"] = true;
        await AwaitAssertAsync(() => Assert.Contains(_handler.Calls, k => k.Request.Kind == CoordinatorSettings.StorageFenceKind), Wait);
        Assert.Contains("node2 still report vm1 active", (await c.Ask<ActivationVerdict>(new CheckActivation("node3", "vm1", true), Wait)).Refusal, StringComparison.Ordinal);
        var fence = _handler.Calls.First(k => k.Request.Kind == CoordinatorSettings.StorageFenceKind);
        Assert.Equal("node2", fence.Request.Payload);
        Assert.Equal("node1", fence.Request.SubmittedBy);

        // Tried again 5 s later, succeeds: node2's report stops counting, its emptiness is told, node3 activates.
        await AwaitAssertAsync(() => Assert.Equal(2, _handler.Calls.Count(k => k.Request.Kind == CoordinatorSettings.StorageFenceKind)), TimeSpan.FromSeconds(15));
        // The preemption is an event in the numbered sequence, like any other operation's.
        topic.FishForMessage<Publish>(p => p.Message is EventsCommitted e && e.Events.Any(x => x.Event.Kind == "host-fenced"), Wait);
        topic.FishForMessage<Publish>(p => p.Message is HostReported { Report.Host: "node2" } r && r.Report.Active.IsEmpty, TimeSpan.FromSeconds(10));
        Assert.Null((await c.Ask<ActivationVerdict>(new CheckActivation("node3", "vm1", true), Wait)).Refusal);
        // Fenced once is enough: no more fences while node2 stays out.
        await Task.Delay(1000);
        Assert.Equal(2, _handler.Calls.Count(k => k.Request.Kind == CoordinatorSettings.StorageFenceKind));
    }

    [Fact]
    public async Task CheckActivation_Exclusive_WaitsForEveryLiveHostsReport_EvenAfterTheWaitRanOut()
    {
        // Operations run once the wait for reports runs out; an exclusive activation must not:
        // a live host that has not reported (its agent just restarted) may have the LV active.
        using var lease = new TestLeaseGuard(1);
        _handler.Behaviour = (ctx, _) => Task.FromResult(new OperationOutcome(OperationStatus.Succeeded, "ok", null, [],
            [ClaimChange.Grant("vm1", ctx.Request.SubmittedBy, ClaimMode.Exclusive)]));
        var c = Start(lease, CreateTestProbe().Ref, ["node2", "node3"], reportWait: TimeSpan.FromMilliseconds(200));
        c.Tell(Report("node2"));
        await ClaimAsync(c, "vm1", "node2");

        Assert.Contains("node3 has not reported", (await c.Ask<ActivationVerdict>(new CheckActivation("node2", "vm1", true), Wait)).Refusal, StringComparison.Ordinal);
        Assert.Null((await c.Ask<ActivationVerdict>(new CheckActivation("node2", "vm1", false), Wait)).Refusal); // shared: the claim decides

        c.Tell(Report("node3"));
        Assert.Null((await c.Ask<ActivationVerdict>(new CheckActivation("node2", "vm1", true), Wait)).Refusal);
    }

    [Fact]
    public async Task PingAnswer_AsksForTheReport_UntilTheHostHasSentOne()
    {
        // The hosts topic's CoordinatorReady can miss a host; the ping every second cannot.
        using var lease = new TestLeaseGuard(1);
        var c = Start(lease, CreateTestProbe().Ref, ["node2"]);
        Assert.True((await c.Ask<HostPong>(new HostPing("node2", DateTimeOffset.UnixEpoch), Wait)).WantsReport);

        c.Tell(Report("node2"));
        Assert.False((await c.Ask<HostPong>(new HostPing("node2", DateTimeOffset.UnixEpoch), Wait)).WantsReport);
    }

    [Fact]
    public async Task WaitApplied_AnsweredWhenEveryNamedHostAcknowledged()
    {
        using var lease = new TestLeaseGuard(1);
        var c = Start(lease, CreateTestProbe().Ref, []);
        var waiting = c.Ask<CoordinatorStatus>(new WaitApplied(3, ["node2", "node3"]), Wait);
        c.Tell(new HostApplied("node2", 3, DateTimeOffset.UnixEpoch));
        await Task.Delay(300);
        Assert.False(waiting.IsCompleted);

        c.Tell(new HostApplied("node3", 4, DateTimeOffset.UnixEpoch));
        var status = await waiting;
        Assert.Equal(["node2", "node3"], status.Applied.Select(a => a.Host));
    }
}

public sealed class HostDirectoryTests
{
    private sealed class HandClock : TimeProvider
    {
        public long Ticks { get; set; } = 1_000_000;

        public override long GetTimestamp() => Ticks;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;
    }

    [Fact]
    public void Silence_CountsFromTheLastMessage_OrFromTheCoordinatorsStart()
    {
        var clock = new HandClock();
        var hosts = new HostDirectory(clock, TimeSpan.FromSeconds(7));
        clock.Ticks += TimeSpan.FromSeconds(2).Ticks;
        Assert.Equal(TimeSpan.FromSeconds(2), hosts.Silence("node2")); // never heard: since this coordinator started

        hosts.Heard("node2");
        clock.Ticks += TimeSpan.FromSeconds(1).Ticks;
        Assert.Equal(TimeSpan.FromSeconds(1), hosts.Silence("node2"));
    }

    [Fact]
    public void Report_OfAHostSilentPastTheExpiry_NoLongerCounts()
    {
        var clock = new HandClock();
        var hosts = new HostDirectory(clock, TimeSpan.FromSeconds(7));
        Assert.True(hosts.Report(new HostReport("node2", [new ReportedLv("vm1", 1)], "", DateTimeOffset.UnixEpoch)));
        Assert.False(hosts.Report(new HostReport("node2", [new ReportedLv("vm1", 0)], "", DateTimeOffset.UnixEpoch))); // the same LVs
        Assert.Equal(["node2"], hosts.ActiveOn("vm1").ToArray());

        clock.Ticks += TimeSpan.FromSeconds(8).Ticks;
        Assert.Empty(hosts.ActiveOn("vm1"));
        Assert.Empty(hosts.Reports);
    }

    [Fact]
    public void Report_OfASilentHost_CountsUntilTheClusterHasHadItOutForTheGrace()
    {
        // A holder cut off from the coordinator alone still sees a majority: it fences only once
        // it hears of its downing, so silence alone must not let its LV move (a handoff recorded
        // while it still looked live waited on this report only).
        var clock = new HandClock();
        var gone = new HashSet<string>();
        var hosts = new HostDirectory(clock, TimeSpan.FromSeconds(7), TimeSpan.FromSeconds(3), gone.Contains);
        hosts.Report(new HostReport("node2", [new ReportedLv("vm1", 1)], "", DateTimeOffset.UnixEpoch));

        clock.Ticks += TimeSpan.FromSeconds(8).Ticks;
        Assert.Empty(hosts.ObserveMembership());
        Assert.Equal(["node2"], hosts.ActiveOn("vm1").ToArray()); // silent past the expiry, still a member

        gone.Add("node2");
        Assert.Empty(hosts.ObserveMembership()); // out from now on
        clock.Ticks += TimeSpan.FromSeconds(2).Ticks;
        Assert.Empty(hosts.ObserveMembership());
        Assert.Equal(["node2"], hosts.ActiveOn("vm1").ToArray());
        Assert.Equal(TimeSpan.FromSeconds(2), hosts.GoneFor("node2"));

        clock.Ticks += TimeSpan.FromSeconds(1).Ticks;
        Assert.Equal(["node2"], hosts.ObserveMembership()); // told once
        Assert.Empty(hosts.ActiveOn("vm1"));
        Assert.Empty(hosts.ObserveMembership());

        gone.Remove("node2"); // back: its report counts again, and its silence starts anew with its next message
        hosts.ObserveMembership();
        Assert.Equal(TimeSpan.Zero, hosts.GoneFor("node2"));
        hosts.Heard("node2");
        Assert.Equal(["node2"], hosts.ActiveOn("vm1").ToArray());
    }

    [Fact]
    public void GoneFor_AHostThisCoordinatorNeverHeard_CountsFromTheFirstObservationAfterTheQuestion()
    {
        // A new coordinator asked to move the claim of a holder that was cut off before it started.
        var clock = new HandClock();
        var hosts = new HostDirectory(clock, TimeSpan.FromSeconds(7), TimeSpan.FromSeconds(3), _ => true);
        Assert.Equal(TimeSpan.Zero, hosts.GoneFor("node1"));

        hosts.ObserveMembership();
        clock.Ticks += TimeSpan.FromSeconds(3).Ticks;
        Assert.Equal(TimeSpan.FromSeconds(3), hosts.GoneFor("node1"));
    }

    [Fact]
    public void Announce_CountsTheLvActiveUntilTheHostsNextReport()
    {
        var hosts = new HostDirectory(new HandClock(), TimeSpan.FromSeconds(7));
        hosts.Announce("node3", "vm1", DateTimeOffset.UnixEpoch);
        Assert.Equal(["node3"], hosts.ActiveOn("vm1").ToArray());
        Assert.Empty(hosts.ActiveOn("vm1", except: "node3"));

        hosts.Report(new HostReport("node3", [], "", DateTimeOffset.UnixEpoch));
        Assert.Empty(hosts.ActiveOn("vm1"));
    }

    [Fact]
    public void StorageFencing_AReportStopsCountingOnlyOnceItsHostIsFencedByStorage_AndCountsAgainWhenItReports()
    {
        var clock = new HandClock();
        var hosts = new HostDirectory(clock, TimeSpan.FromSeconds(7), TimeSpan.FromSeconds(3), _ => true, storageFencing: true);
        hosts.Report(new HostReport("node2", [new ReportedLv("vm1", 0)], "", DateTimeOffset.UnixEpoch));
        hosts.ObserveMembership();
        clock.Ticks += TimeSpan.FromMinutes(5).Ticks;
        // Silent and out for minutes: a paused host may still write, so its report counts.
        Assert.Empty(hosts.ObserveMembership());
        Assert.Equal(["node2"], hosts.ActiveOn("vm1").ToArray());

        hosts.FencedByStorage("node2");
        Assert.Equal(["node2"], hosts.ObserveMembership());
        Assert.Empty(hosts.ActiveOn("vm1"));
        Assert.True(hosts.IsFencedByStorage("node2"));

        hosts.Report(new HostReport("node2", [], "", DateTimeOffset.UnixEpoch));
        Assert.False(hosts.IsFencedByStorage("node2"));
        Assert.True(hosts.Reports.ContainsKey("node2"));
    }
}
