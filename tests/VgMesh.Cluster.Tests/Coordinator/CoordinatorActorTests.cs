using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.TestKit.Xunit2;
using VgMesh.Cluster.Coordinator;
using VgMesh.Cluster.Leases;

namespace VgMesh.Cluster.Tests.Coordinator;

/// <summary>
/// The coordinator actor on Akka's in-memory journal (shared by every actor of the test's
/// system, so a second incarnation recovers what the first wrote); the multi-node tests run it
/// on PostgreSQL.
/// </summary>
public sealed class CoordinatorActorTests() : TestKit(TestConfig.InMemoryCoordinator)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private readonly ScriptedHandler _handler = new();

    private IActorRef Start(ILeaseGuard? lease, IActorRef? publisher = null, int snapshotEvery = 500) =>
        Sys.ActorOf(Props.Create(() => new CoordinatorActor(new CoordinatorSettings("node1", CoordinatorSettings.DefaultEventsTopic, snapshotEvery), _handler, () => lease, publisher ?? CreateTestProbe().Ref, TimeProvider.System)));

    private static SubmitOperation Submit(string id, string kind = "lv.create") => new(new OperationRequest(id, kind, "{\"lv\":\"" + id + "\"}", "node2"));

    private void StopAndWait(IActorRef actor)
    {
        Watch(actor);
        actor.Tell(PoisonPill.Instance);
        ExpectTerminated(actor, Wait);
    }

    [Fact]
    public async Task Submit_NewOperation_RunsOnceAndResubmissionGetsTheRecordedResult()
    {
        using var lease = new TestLeaseGuard(1);
        var c = Start(lease);

        var first = await c.Ask<OperationFinished>(Submit("op-1"), Wait);
        var again = await c.Ask<OperationFinished>(Submit("op-1"), Wait);

        Assert.Equal(OperationStatus.Succeeded, first.Result.Status);
        Assert.Equal(first.Result, again.Result);
        Assert.Equal(1, first.Result.Generation);
        Assert.Single(_handler.Calls);
    }

    [Fact]
    public async Task Submit_ResubmittedAfterCoordinatorChange_RunsOnce()
    {
        using (var lease = new TestLeaseGuard(1))
        {
            var c = Start(lease);
            await c.Ask<OperationFinished>(Submit("op-1"), Wait);
            StopAndWait(c);
        }

        using var lease2 = new TestLeaseGuard(2);
        var c2 = Start(lease2);
        var again = await c2.Ask<OperationFinished>(Submit("op-1"), Wait);

        Assert.Equal(1, again.Result.Generation);
        Assert.Single(_handler.Calls);
    }

    [Fact]
    public async Task Submit_SameIdForADifferentRequest_RefusedAndNothingRuns()
    {
        using var lease = new TestLeaseGuard(1);
        var c = Start(lease);
        await c.Ask<OperationFinished>(Submit("op-1"), Wait);

        var refused = await c.Ask<OperationRefused>(Submit("op-1", "lv.remove"), Wait);

        Assert.Contains("already used for a different request", refused.Reason, StringComparison.Ordinal);
        Assert.Single(_handler.Calls);
    }

    [Fact]
    public async Task Recovery_FromTheJournal_GivesTheSameState()
    {
        CoordinatorState before;
        using (var lease = new TestLeaseGuard(1))
        {
            _handler.Behaviour = (ctx, _) => Task.FromResult(new OperationOutcome(
                OperationStatus.Succeeded, "ok", null, [ScriptedHandler.Event(ctx.Request.Id), ScriptedHandler.Event(ctx.Request.Id, "lv.activated")],
                [ClaimChange.Grant("san/" + ctx.Request.Id, "node1", ClaimMode.Exclusive)]));
            var c = Start(lease, snapshotEvery: 5); // a snapshot mid-way: recovery reads it, then the entries after it
            for (var i = 0; i < 4; i++)
            {
                await c.Ask<OperationFinished>(Submit($"op-{i}"), Wait);
            }

            before = await c.Ask<CoordinatorState>(CoordinatorActor.GetState.Instance, Wait);
            StopAndWait(c);
        }

        using var lease2 = new TestLeaseGuard(2);
        var c2 = Start(lease2);
        var after = await c2.Ask<CoordinatorState>(CoordinatorActor.GetState.Instance, Wait);

        Assert.Equal(8, after.LastEventSequence);
        Assert.Equal(4, after.Claims.Count);
        Assert.Equal(2, after.Generation);
        Assert.Equal(StateJson.Of(before with { Generation = 2 }), StateJson.Of(after));
    }

    [Fact]
    public async Task History_OlderThanTheRetention_ForgottenInStateAndJournal_RecoveryAgrees()
    {
        var logs = CreateTestProbe();
        Sys.EventStream.Subscribe(logs.Ref, typeof(Akka.Event.Info));
        CoordinatorState before;
        using (var lease = new TestLeaseGuard(1))
        {
            var settings = new CoordinatorSettings("node1", HistoryRetention: TimeSpan.FromMilliseconds(300), HistoryEvery: TimeSpan.FromMilliseconds(100));
            var c = Sys.ActorOf(Props.Create(() => new CoordinatorActor(settings, _handler, () => lease, CreateTestProbe().Ref, TimeProvider.System)));
            await c.Ask<OperationFinished>(Submit("op-1"), Wait);
            await c.Ask<OperationFinished>(Submit("op-2"), Wait);

            // The results go after the retention, and the journal's rows once a mark older than it exists.
            logs.FishForMessage<Akka.Event.Info>(i => i.Message.ToString()!.StartsWith("coordinator journal: entries up to", StringComparison.Ordinal), Wait);
            before = await c.Ask<CoordinatorState>(CoordinatorActor.GetState.Instance, Wait);
            StopAndWait(c);
        }

        Assert.Empty(before.Operations);
        Assert.Equal(2, before.LastEventSequence);

        // Recovery from what is left (the snapshot and the entries after it) gives the same state;
        // an id older than the retention is a new operation again (the documented idempotency window).
        using var lease2 = new TestLeaseGuard(2);
        var c2 = Start(lease2);
        var after = await c2.Ask<CoordinatorState>(CoordinatorActor.GetState.Instance, Wait);
        // (Marks aside: a history tick may have added one between the read and the stop.)
        Assert.Equal(StateJson.Of(before with { Generation = 2, Marks = after.Marks }), StateJson.Of(after));
        await c2.Ask<OperationFinished>(Submit("op-1"), Wait);
        Assert.Equal(3, _handler.Calls.Count);
    }

    [Fact]
    public async Task LeaseLost_StopsTheCoordinatorBeforeItsNextLvmCommand()
    {
        var lease = new TestLeaseGuard(1);
        var inStep = new TaskCompletionSource();
        var resume = new TaskCompletionSource();
        _handler.Behaviour = async (ctx, ct) =>
        {
            _handler.RunLvm(ctx, "lvcreate");
            inStep.SetResult();
            await resume.Task;
            _handler.RunLvm(ctx, "dmsetup remove"); // refused: the lease went meanwhile
            return new OperationOutcome(OperationStatus.Succeeded, "ok", null, [], []);
        };
        var c = Start(lease);
        Watch(c);
        c.Tell(Submit("op-1"));
        await inStep.Task.WaitAsync(Wait);

        lease.Lose();
        ExpectTerminated(c, Wait);
        resume.SetResult();
        await Task.Delay(200);

        Assert.Equal(["lvcreate"], _handler.Commands);

        // Nothing was recorded for it: the next coordinator runs it again, as recovered.
        _handler.Behaviour = (ctx, _) => Task.FromResult(new OperationOutcome(OperationStatus.Succeeded, ctx.Recovered ? "recovered" : "fresh", null, [], []));
        using var lease2 = new TestLeaseGuard(2);
        var c2 = Start(lease2);
        var result = await c2.Ask<OperationFinished>(Submit("op-1"), Wait);
        Assert.Equal("recovered", result.Result.Message);
        Assert.Equal(2, result.Result.Generation);
        lease.Dispose();
    }

    [Fact]
    public async Task LeaseLostWhileQueued_NothingMoreRuns()
    {
        var lease = new TestLeaseGuard(1);
        var gate = new TaskCompletionSource();
        _handler.Behaviour = async (ctx, ct) =>
        {
            await gate.Task.WaitAsync(ct);
            return new OperationOutcome(OperationStatus.Succeeded, "ok", null, [], []);
        };
        var c = Start(lease);
        Watch(c);
        c.Tell(Submit("op-1"));
        c.Tell(Submit("op-2"));
        await AwaitConditionAsync(() => Task.FromResult(!_handler.Calls.IsEmpty), Wait);

        lease.Lose();

        ExpectTerminated(c, Wait);
        Assert.Single(_handler.Calls);
        Assert.True(_handler.Calls.Single().Lease.Lost.IsCancellationRequested);
        lease.Dispose();
    }

    [Fact]
    public void Start_WithoutAHeldLease_RunsNothing()
    {
        using var lease = new TestLeaseGuard(1) { Held = false };
        var c = Start(lease);
        Watch(c);
        c.Tell(Submit("op-1"));

        ExpectTerminated(c, Wait);
        Assert.Empty(_handler.Calls);
    }

    [Fact]
    public async Task Start_GenerationNotAboveTheJournals_Refused()
    {
        using (var lease = new TestLeaseGuard(5))
        {
            var c = Start(lease);
            await c.Ask<OperationFinished>(Submit("op-1"), Wait);
            StopAndWait(c);
        }

        using var stale = new TestLeaseGuard(5);
        var c2 = Start(stale);
        Watch(c2);
        c2.Tell(Submit("op-2"));

        ExpectTerminated(c2, Wait);
        Assert.Single(_handler.Calls);
    }

    [Fact]
    public async Task Outcome_BreakingTheClaimRules_RecordedAsFailedWithoutTheClaim()
    {
        using var lease = new TestLeaseGuard(1);
        _handler.Behaviour = (ctx, _) => Task.FromResult(new OperationOutcome(OperationStatus.Succeeded, "ok", null, [],
            [ClaimChange.Grant("san/vm1", ctx.Request.Id == "op-1" ? "node1" : "node2", ClaimMode.Exclusive)]));
        var c = Start(lease);

        await c.Ask<OperationFinished>(Submit("op-1"), Wait);
        var second = await c.Ask<OperationFinished>(Submit("op-2"), Wait);
        var status = await c.Ask<CoordinatorStatus>(GetCoordinatorStatus.Instance, Wait);

        Assert.Equal(OperationStatus.Failed, second.Result.Status);
        Assert.Contains("exclusively on node1", second.Result.Message, StringComparison.Ordinal);
        Assert.Equal(["node1"], status.Claims.Single().Hosts);
    }

    [Fact]
    public async Task Events_PublishedInSequenceWithTheirJournalEntry()
    {
        using var lease = new TestLeaseGuard(3);
        var topic = CreateTestProbe();
        _handler.Behaviour = (ctx, _) => Task.FromResult(new OperationOutcome(OperationStatus.Succeeded, "ok", null,
            ctx.Request.Id == "op-1" ? [ScriptedHandler.Event("a"), ScriptedHandler.Event("b")] : [ScriptedHandler.Event("c")], []));
        var c = Start(lease, topic.Ref);

        var r1 = await c.Ask<OperationFinished>(Submit("op-1"), Wait);
        var r2 = await c.Ask<OperationFinished>(Submit("op-2"), Wait);

        // The hosts topic also hears from a coordinator (it asks for reports at start).
        var p1 = topic.FishForMessage<Publish>(p => p.Topic == CoordinatorSettings.DefaultEventsTopic, Wait);
        var p2 = topic.FishForMessage<Publish>(p => p.Topic == CoordinatorSettings.DefaultEventsTopic, Wait);
        var e1 = Assert.IsType<EventsCommitted>(p1.Message);
        var e2 = Assert.IsType<EventsCommitted>(p2.Message);
        Assert.Equal(CoordinatorSettings.DefaultEventsTopic, p1.Topic);
        Assert.Equal([1L, 2L], e1.Events.Select(e => e.Sequence));
        Assert.Equal([3L], e2.Events.Select(e => e.Sequence));
        Assert.All(e1.Events, e => Assert.Equal(3, e.Generation));
        Assert.True(e2.JournalSequenceNr > e1.JournalSequenceNr);
        Assert.Equal(2, r1.Result.LastEventSequence);
        Assert.Equal(3, r2.Result.LastEventSequence);
    }

    [Fact]
    public async Task Record_AnOperationRunOnItsHost_JournaledNumberedPublishedOnce_NeverRun()
    {
        using var lease = new TestLeaseGuard(2);
        var topic = CreateTestProbe();
        var c = Start(lease, topic.Ref);
        var request = new OperationRequest("op-local", "lv.create", "{\"lv\":\"vm9\"}", "node3");
        var outcome = new OperationOutcome(OperationStatus.Succeeded, "created san/vm9 on node3", null, [ScriptedHandler.Event("vm9")], []);

        var first = await c.Ask<OperationFinished>(new RecordOperation(request, outcome), Wait);
        var again = await c.Ask<OperationFinished>(new RecordOperation(request, outcome), Wait);
        var other = await c.Ask<OperationRefused>(new RecordOperation(request with { Kind = "lv.remove" }, outcome), Wait);

        Assert.Equal(OperationStatus.Succeeded, first.Result.Status);
        Assert.Equal("node3", first.Result.CompletedBy); // where it ran
        Assert.Equal(2, first.Result.Generation);
        Assert.Equal(1, first.Result.LastEventSequence);
        Assert.Equal(first.Result, again.Result);
        Assert.Contains("already used for a different request", other.Reason, StringComparison.Ordinal);
        Assert.Empty(_handler.Calls); // recorded, never run by the coordinator
        var published = Assert.IsType<EventsCommitted>(topic.FishForMessage<Publish>(p => p.Topic == CoordinatorSettings.DefaultEventsTopic, Wait).Message);
        Assert.Equal([1L], published.Events.Select(e => e.Sequence));

        // A queued operation after it is numbered after it, and a new coordinator recovers both.
        var queued = await c.Ask<OperationFinished>(Submit("op-2"), Wait);
        Assert.True(queued.Result.LastEventSequence >= 1);
        StopAndWait(c);
        using var lease2 = new TestLeaseGuard(3);
        var c2 = Start(lease2);
        Assert.Equal(first.Result, (await c2.Ask<OperationFinished>(new RecordOperation(request, outcome), Wait)).Result);
        Assert.Single(_handler.Calls);
    }

    [Fact]
    public async Task HandlerThrows_RecordedAsFailedAndTheQueueGoesOn()
    {
        using var lease = new TestLeaseGuard(1);
        _handler.Behaviour = (ctx, _) => ctx.Request.Id == "op-1"
            ? throw new InvalidOperationException("lvcreate exited 5: Volume group \"san\" has insufficient free space")
            : Task.FromResult(new OperationOutcome(OperationStatus.Succeeded, "ok", null, [], []));
        var c = Start(lease);

        var r1 = await c.Ask<OperationFinished>(Submit("op-1"), Wait);
        var r2 = await c.Ask<OperationFinished>(Submit("op-2"), Wait);

        Assert.Equal(OperationStatus.Failed, r1.Result.Status);
        Assert.Contains("insufficient free space", r1.Result.Message, StringComparison.Ordinal);
        Assert.Equal(OperationStatus.Succeeded, r2.Result.Status);
    }
}
