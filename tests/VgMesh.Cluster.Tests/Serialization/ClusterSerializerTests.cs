using Akka.Actor;
using Akka.TestKit.Xunit2;
using VgMesh.Cluster.Coordinator;
using VgMesh.Cluster.Serialization;

namespace VgMesh.Cluster.Tests.Serialization;

public sealed class ClusterSerializerTests() : TestKit(Config)
{
    private const string Config = TestConfig.SerializerBinding;

    private static readonly DateTimeOffset T = new(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly ClusterEvent Ev = new("lv.extended", "san/vm1", "{\"size\":1}", 42, "op-1", "node1", T);
    private static readonly OperationResult Result = new("op-1", OperationStatus.Succeeded, "ok", "{}", "node1", 3, T, 7);

    private static CoordinatorState State() => CoordinatorState.Empty
        .Apply(new CoordinatorStarted(3, "node1", T))
        .Apply(new OperationAccepted(new OperationRequest("op-1", "lv.create", "{}", "node2"), 3, T))
        .Apply(new OperationCompleted(Result, [Ev], [ClaimChange.Grant("san/vm1", "node1", ClaimMode.Exclusive)], 3, T))
        .Apply(new OperationAccepted(new OperationRequest("op-2", "lv.remove", "{}", "node2"), 3, T))
        .Apply(new OperationStarted("op-2", 3, T))
        .Apply(new HistoryMarked(5, 3, T))
        .Apply(new LockHostIdRecorded("node2", 2, 3, T));

    private static readonly HostReport Report = new("node2", [new ReportedLv("vm1", 1), new ReportedLv("vm2", 0, Announced: true)], "{\"alerts\":[]}", T);

    public static TheoryData<string> Messages => [.. Samples().Keys];

    private static Dictionary<string, object> Samples() => new()
    {
        ["CoordinatorStarted"] = new CoordinatorStarted(3, "node1", T),
        ["OperationAccepted"] = new OperationAccepted(new OperationRequest("op-1", "lv.create", "{\"lv\":\"vm1\"}", "node2"), 3, T),
        ["OperationStarted"] = new OperationStarted("op-1", 3, T),
        ["HistoryMarked"] = new HistoryMarked(41, 3, T),
        ["HistoryPruned"] = new HistoryPruned(T.AddDays(-7), 3, T),
        ["OperationCompleted"] = new OperationCompleted(Result, [Ev], [ClaimChange.Handoff("san/vm1", "node1", "node2")], 3, T, new OperationRequest("op-1", "lv.create", "{}", "node2")),
        ["CoordinatorState"] = State(),
        ["SubmitOperation"] = new SubmitOperation(new OperationRequest("op-1", "lv.create", "{}", "node2")),
        ["OperationFinished"] = new OperationFinished(Result),
        ["OperationRefused"] = new OperationRefused("op-1", "used before"),
        ["GetCoordinatorStatus"] = GetCoordinatorStatus.Instance,
        ["CoordinatorStatus"] = new CoordinatorStatus("node1", 3, TimeSpan.FromSeconds(2), 1, 7, [State().Claims["san/vm1"]], [new HostAck("node2", 7, T)], [Report]),
        ["HostApplied"] = new HostApplied("node2", 7, T),
        ["EventsAvailable"] = new EventsAvailable(7),
        ["EventsCommitted"] = new EventsCommitted(12, [new SequencedEvent(7, 3, Ev)]),
        ["HostReport"] = Report,
        ["HostReported"] = new HostReported(Report),
        ["CoordinatorReady"] = new CoordinatorReady("node1", 3),
        ["HostPing"] = new HostPing("node2", T),
        ["HostPong"] = new HostPong("node1", 3, WantsReport: true),
        ["CheckActivation"] = new CheckActivation("node2", "vm1", true),
        ["ActivationVerdict"] = new ActivationVerdict(State().Claims["san/vm1"], null),
        ["WaitApplied"] = new WaitApplied(7, ["node1", "node2"]),
        ["LockHostIdRecorded"] = new LockHostIdRecorded("node2", 2, 3, T),
        ["AssignLockHostId"] = new AssignLockHostId("node3", null),
        ["LockHostIdAnswer"] = new LockHostIdAnswer("node3", null, "all taken"),
        ["RecordOperation"] = new RecordOperation(new OperationRequest("op-1", "lv.create", "{}", "node2"),
            new OperationOutcome(OperationStatus.Succeeded, "created san/vm1", null, [Ev], [ClaimChange.Drop("san/vm1")])),
    };

    [Theory]
    [MemberData(nameof(Messages))]
    public void EveryMessage_GoesThroughVgMeshSerializer_AndComesBackTheSame(string name)
    {
        var message = Samples()[name];
        var serializer = Sys.Serialization.FindSerializerFor(message);

        Assert.IsType<ClusterSerializer>(serializer);
        var manifest = ((Akka.Serialization.SerializerWithStringManifest)serializer).Manifest(message);
        var back = Sys.Serialization.Deserialize(serializer.ToBinary(message), ClusterSerializer.Id, manifest);

        Assert.Equal(name + ".v1", manifest);
        Assert.Equal(message.GetType(), back.GetType());
        Assert.Equal(Json(message), Json(back));
    }

    [Fact]
    public void OperationCompleted_WrittenBeforeItCouldCarryItsRequest_ReadsWithout()
    {
        var old = new OperationCompleted(Result, [Ev], [], 3, T);
        var serializer = (ClusterSerializer)Sys.Serialization.FindSerializerFor(old);
        var json = System.Text.Json.Nodes.JsonNode.Parse(serializer.ToBinary(old))!.AsObject();
        json.Remove("request"); // the entry as written before 2026-12-07

        var back = (OperationCompleted)serializer.FromBinary(System.Text.Encoding.UTF8.GetBytes(json.ToJsonString()), "OperationCompleted.v1");

        Assert.Null(back.Request);
        Assert.Equal(Result, back.Result);
    }

    [Fact]
    public void EveryBoundType_HasASample()
    {
        Assert.Equal(ClusterSerializer.BoundTypes.Select(t => t.Name).Order(), Samples().Keys.Order());
    }

    [Fact]
    public void State_RoundTrip_KeepsItsRules()
    {
        var serializer = (ClusterSerializer)Sys.Serialization.FindSerializerFor(State());
        var back = (CoordinatorState)serializer.FromBinary(serializer.ToBinary(State()), "CoordinatorState.v1");

        Assert.Equal("op-2", back.NextPending!.Request.Id);
        Assert.Equal(OperationPhase.Started, back.NextPending.Phase);
        Assert.NotNull(back.CheckClaims([ClaimChange.Grant("san/vm1", "node2", ClaimMode.Exclusive)]));
        Assert.Same(back, back.Apply(new OperationCompleted(Result, [], [], 2, T))); // an older generation changes nothing
        Assert.Equal(5, back.JournalWrittenBefore(T.AddSeconds(1)));
    }

    [Fact]
    public void State_WrittenBeforeMarksExisted_ReadsWithNone()
    {
        var serializer = (ClusterSerializer)Sys.Serialization.FindSerializerFor(State());
        var json = System.Text.Json.Nodes.JsonNode.Parse(serializer.ToBinary(State()))!.AsObject();
        Assert.True(json.Remove("marks"));

        var back = (CoordinatorState)serializer.FromBinary(System.Text.Encoding.UTF8.GetBytes(json.ToJsonString()), "CoordinatorState.v1");

        Assert.Empty(back.Marks);
        Assert.Equal("op-2", back.NextPending!.Request.Id);
    }

    [Fact]
    public void UnknownManifest_RefusedWithWhatToDo()
    {
        var serializer = new ClusterSerializer((ExtendedActorSystem)Sys);

        var e = Assert.Throws<System.Runtime.Serialization.SerializationException>(() => serializer.FromBinary("{}"u8.ToArray(), "OperationAccepted.v9"));

        Assert.Contains("Upgrade this host's vgmesh", e.Message, StringComparison.Ordinal);
    }

    private static string Json(object o) => System.Text.Json.JsonSerializer.Serialize(o, o.GetType(), ClusterJsonContext.Default);
}
