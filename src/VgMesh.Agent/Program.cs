using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using VgMesh.Agent;
using VgMesh.Agent.Api;
using VgMesh.Agent.Operations;
using VgMesh.Agent.Reconciling;
using VgMesh.Agent.Telemetry;
using VgMesh.Client;
using VgMesh.Cluster.Contact;
using VgMesh.Cluster.Coordinator;
using VgMesh.Cluster.Events;
using VgMesh.Cluster.Hosting;
using VgMesh.Lvm;
using VgMesh.Lvm.Commands;
using VgMesh.Lvm.DeviceMapper;
using VgMesh.Lvm.Scsi;
using OpenTelemetry.Metrics;

if (args is ["certificates", .. var certificateArgs])
{
    return CertificatesCommand.Run(certificateArgs, Console.Out, Console.Error, TimeProvider.System);
}

var configFile = args.SkipWhile(a => a != "--config").Skip(1).FirstOrDefault() ?? "/etc/vgmesh/vgmeshd.json";
var builder = WebApplication.CreateSlimBuilder(args);
builder.Configuration.AddJsonFile(configFile, optional: true).AddEnvironmentVariables("VGMESH_");
AgentOptions options;
try
{
    options = (builder.Configuration.GetSection("VgMesh").Get<AgentOptions>() ?? new AgentOptions()).Validate();
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"vgmeshd: {e.Message} (config file: {configFile})");
    return 2;
}

InstanceLock instance;
try
{
    instance = InstanceLock.Take(options.StateDir, Environment.ProcessId);
}
catch (InvalidOperationException e)
{
    Console.Error.WriteLine($"vgmeshd: {e.Message}");
    return 2;
}

AgentExit.WatchStopSignals();
builder.Logging.AddSimpleConsole(o => o.SingleLine = true).AddFilter("Microsoft.AspNetCore", LogLevel.Warning).AddFilter("Microsoft.Hosting", LogLevel.Warning);
builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, ApiJsonContext.Default));
var token = options.TokenFile is { } tf ? File.ReadAllText(tf).Trim() : null;
builder.WebHost.ConfigureKestrel(k =>
{
    // Every body the API and the LLS sockets take is a small JSON object; the one that streams
    // data (a delta sync in) lifts it on its endpoint. Without a bound, the fuzz run of
    // 2026-12-06 left an agent holding 430 MB after a full collection: a few bodies of 1-3 MB
    // each became pooled buffers twenty times their size on the way to an error answer.
    k.Limits.MaxRequestBodySize = VgMesh.Agent.Api.Endpoints.MaxBodyBytes;
    Directory.CreateDirectory(Path.GetDirectoryName(options.UnixSocket)!);
    File.Delete(options.UnixSocket);
    k.ListenUnixSocket(options.UnixSocket);
    if (options.TcpEndPoint() is { } ep)
    {
        k.Listen(ep);
    }

    if (options.MetricsEndPoint() is { } mp)
    {
        k.Listen(mp);
    }

    VgMesh.Agent.Lls.LlsEndpoints.Listen(k, options);
});

var s = builder.Services;
s.AddSingleton(options);
s.AddSingleton(TimeProvider.System);
Directory.CreateDirectory(options.StateDir);
s.AddSingleton<FencedSet>();
// The provider listens before the instruments are made: their zero starting points must be seen.
s.AddSingleton(sp =>
{
    _ = sp.GetRequiredService<MeterProvider>();
    return new AgentMetrics(sp.GetRequiredService<FencedSet>());
});
s.AddAgentTelemetry(options);
s.AddHostedService<MetricsSampler>();
s.AddSingleton(sp => new Journal(Path.Combine(options.StateDir, "journal.db"), sp.GetRequiredService<TimeProvider>()));
s.AddSingleton<ILvmRunner>(sp => new JournalingLvmRunner(
    new LvmRunner(new LvmRunnerOptions { CommandPrefix = options.LvmCommandPrefix, LvmSystemDir = options.LvmSystemDir, WaitForLocks = true }, sp.GetRequiredService<ILogger<LvmRunner>>(), sp.GetRequiredService<TimeProvider>()),
    sp.GetRequiredService<Journal>(), sp.GetRequiredService<AgentMetrics>()));
s.AddSingleton<LvmDriver>();
s.AddSingleton<DmSetup>();
s.AddSingleton<ThinPools>();
s.AddSingleton<SanlockLeases>();
s.AddSingleton(sp => new ContactClock(sp.GetRequiredService<TimeProvider>(), options.LastContactFile));
// Fencing first, before the cluster engine: it must run even when Akka cannot start.
s.AddSingleton<MajorityWatch>();
s.AddSingleton<ClaimCache>();
s.AddSingleton<FencingService>();
s.AddHostedService(sp => sp.GetRequiredService<FencingService>());
s.AddSingleton<PersistentReservations>();
s.AddSingleton<StorageState>();
s.AddSingleton<VgMesh.Agent.Lockd.LockdState>();
s.AddHostedService<VgMesh.Agent.Lockd.LockdService>();
s.AddSingleton<StorageFence>();
s.AddHostedService<RegistrationService>();
s.AddSingleton<CoordinatorClient>();
s.AddSingleton<AgentCluster>();
s.AddSingleton<IJournalReader>(sp => new SqlJournalReader(sp.GetRequiredService<ActorSystem>()));
s.AddSingleton<IOperationHandler>(sp => sp.GetRequiredService<VolumeOperations>());
s.AddAkka(ClusterHostingExtensions.SystemName, (b, sp) =>
{
    b.WithVgMeshCluster(options.ToClusterNodeOptions())
        .WithActors((system, registry, resolver) =>
        {
            var mediator = DistributedPubSub.Get(system).Mediator;
            var time = resolver.GetService<TimeProvider>();
            system.ActorOf(Props.Create(() => new HostsTopicListener(resolver.GetService<AgentCluster>(), mediator)), "hosts-topic");
            system.ActorOf(Props.Create(() => new MajorityWatcher(resolver.GetService<MajorityWatch>())), "majority");
            system.ActorOf(Props.Create(() => new QuarantineWatcher()), "quarantine");
            system.ActorOf(Props.Create(() => new JoinWatcher(options.Host, TimeSpan.FromSeconds(options.JoinGiveUpSeconds), options.MemberMarkerFile, time)), "join-watch");
            var follower = new EventFollowerSettings(options.Host, Path.Combine(options.StateDir, "applied.json"), AckEvery: TimeSpan.FromSeconds(2));
            var applier = resolver.GetService<ReconcileService>();
            system.ActorOf(Props.Create(() => new EventFollower(follower, applier, resolver.GetService<IJournalReader>(), mediator, registry.Get<CoordinatorKey>(), time, null)), "events");

            // Downed by the cluster, or quarantined by a member (QuarantineWatcher): fence what is
            // held before the ActorSystem stops. Whatever
            // ends the ActorSystem while the agent is not being stopped (a downing, or Akka.Remote
            // 1.5.74 shutting it down after any failed outbound TLS handshake, even one whose
            // peer was only stopping), the process then ends with 75, so its supervisor (systemd,
            // the lab's boot script) starts a new agent that rejoins with the fence state on disk.
            var shutdown = CoordinatedShutdown.Get(system);
            var fencing = resolver.GetService<FencingService>();
            var lifetime = resolver.GetService<IHostApplicationLifetime>();
            shutdown.AddTask(CoordinatedShutdown.PhaseBeforeServiceUnbind, "vgmesh-fence-when-downed", async () =>
            {
                // Decided here, before the system ends: Akka.Hosting stops the host once it has.
                AgentExit.Decide(shutdown.ShutdownReason, lifetime.ApplicationStopping.IsCancellationRequested);
                if (shutdown.ShutdownReason is CoordinatedShutdown.ClusterDowningReason or QuarantinedReason)
                {
                    await fencing.FenceNowAsync(CancellationToken.None).ConfigureAwait(false);
                }

                return Akka.Done.Instance;
            });
            system.WhenTerminated.ContinueWith(_ => lifetime.StopApplication(), TaskScheduler.Default);
        });
});
s.AddSingleton<StateReader>();
s.AddSingleton<OnDiskMetadata>();
s.AddSingleton<ActivationGuard>();
s.AddSingleton<HostActivity>();
s.AddSingleton<Executor>();
s.AddSingleton<EventTriage>();
s.AddSingleton(sp => new LvActivator(sp.GetRequiredService<LvmDriver>(), sp.GetRequiredService<DmSetup>(), sp.GetRequiredService<StateReader>(), sp.GetRequiredService<OnDiskMetadata>(), sp.GetRequiredService<ILogger<LvActivator>>()));
s.AddSingleton(sp => new Deactivator(sp.GetRequiredService<LvmDriver>(), sp.GetRequiredService<DmSetup>(), sp.GetRequiredService<StateReader>()));
s.AddSingleton<ReconcileService>();
s.AddHostedService(sp => sp.GetRequiredService<ReconcileService>());
s.AddHostedService<HistoryService>();
s.AddSingleton<PeerClient>();
s.AddSingleton<LocalSteps>();
s.AddSingleton<Placement>();
s.AddSingleton<LocalLvCommand>();
s.AddSingleton<ExtendOperation>();
foreach (var operation in new[] { typeof(CreateOperation), typeof(RemoveOperation), typeof(ReduceOperation), typeof(SnapshotOperation), typeof(MergeOperation), typeof(RenameOperation), typeof(ActivateOperation), typeof(DeactivateOperation), typeof(TagOperation), typeof(QuotaOperation) })
{
    s.AddSingleton(typeof(IVolumeOperation), operation);
}

s.AddSingleton<IVolumeOperation>(sp => sp.GetRequiredService<ExtendOperation>());
s.AddSingleton<VolumeOperations>();
s.AddSingleton<StepRunner>();
s.AddSingleton<VgMesh.Agent.Lockd.LocalOperations>();
s.AddSingleton<VolumeService>();
s.AddSingleton<VgMesh.Agent.Sync.PeerRelay>();
s.AddSingleton<VgMesh.Agent.Sync.DeltaService>();
s.AddSingleton<VgMesh.Agent.Sync.SyncToLvService>();
s.AddSingleton<VgMesh.Agent.Sync.BackupService>();
s.AddSingleton<VgMesh.Agent.Sync.UsageService>();
s.AddSingleton(options.Lls);
s.AddSingleton(_ => new VgMesh.Agent.Lls.LlsGrants(Path.Combine(options.StateDir, "lls-grants.json")));
s.AddSingleton<VgMesh.Agent.Lls.ContainerDevices>();
s.AddSingleton<VgMesh.Agent.Lls.LlsService>();
s.AddSingleton<VgMesh.Agent.Lls.Mailer>();
s.AddSingleton(_ => new VgMesh.Agent.Lls.SnapshotUse(Path.Combine(options.StateDir, "lls-snapshot-use.json")));
s.AddHostedService<VgMesh.Agent.Lls.SnapshotWatch>();

var app = builder.Build();
_ = app.Services.GetRequiredService<MeterProvider>(); // instruments are read from the start
var journal = app.Services.GetRequiredService<Journal>();
foreach (var (id, started, command) in journal.Unfinished())
{
    AgentLog.UnfinishedIntent(app.Logger, id, started, command);
}

journal.CloseUnfinished("process ended before the result; state re-read by the reconciler at start");
app.Use(Endpoints.MetricsPortOnlyMetrics(options.MetricsEndPoint()?.Port));
app.Use(Endpoints.BearerOnTcp(token, options.MetricsEndPoint()?.Port));
app.Use(Endpoints.ProblemsAsync);
app.Use(VgMesh.Agent.Lls.LlsEndpoints.GateAsync);
Endpoints.Map(app);
VgMesh.Agent.Lls.LlsEndpoints.Map(app);
// Root-only: the socket is the local operators' door and carries no token.
app.Lifetime.ApplicationStarted.Register(() =>
{
    if (!OperatingSystem.IsWindows())
    {
        File.SetUnixFileMode(options.UnixSocket, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        VgMesh.Agent.Lls.LlsEndpoints.Prepare(options);
    }
});

await app.RunAsync();
instance.Dispose();
return AgentExit.Restart ? AgentExit.RestartCode : 0;
