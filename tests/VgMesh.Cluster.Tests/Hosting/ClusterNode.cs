using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using VgMesh.Cluster.Coordinator;
using VgMesh.Cluster.Hosting;
using VgMesh.Cluster.Tests.Coordinator;

namespace VgMesh.Cluster.Tests.Hosting;

/// <summary>
/// One agent's cluster part in the test process: a real host with a real ActorSystem on
/// loopback, wired exactly as vgmeshd wires it (AddAkka + WithVgMeshCluster), over the test's
/// PostgreSQL. Its operation handler is scripted.
/// </summary>
internal sealed class ClusterNode : IAsyncDisposable
{
    private readonly IHost _host;

    private ClusterNode(string name, int port, IHost host, ScriptedHandler handler)
    {
        Name = name;
        Port = port;
        _host = host;
        Handler = handler;
    }

    public string Name { get; }

    public int Port { get; }

    public ScriptedHandler Handler { get; }

    public ActorSystem System => _host.Services.GetRequiredService<ActorSystem>();

    public CoordinatorClient Client => _host.Services.GetRequiredService<CoordinatorClient>();

    public Akka.Cluster.Cluster Cluster => Akka.Cluster.Cluster.Get(System);

    public static ClusterNodeOptions Options(string name, int port, int seedPort, string journal, string certificates) => new()
    {
        CertificateDirectory = certificates,
        Host = name,
        Hostname = "127.0.0.1",
        Port = port,
        SeedNodes = [$"127.0.0.1:{seedPort}"],
        JournalConnectionString = journal,
        // Short on loopback so the tests run in seconds; the defaults are for real networks.
        HeartbeatPause = TimeSpan.FromSeconds(2),
        StableAfter = TimeSpan.FromSeconds(3),
        DownRemovalMargin = TimeSpan.FromSeconds(1),
        LeaseTtl = TimeSpan.FromSeconds(4),
        LeaseHeartbeat = TimeSpan.FromMilliseconds(500),
        LeaseSafetyMargin = TimeSpan.FromMilliseconds(1500),
        LeaseRetry = TimeSpan.FromMilliseconds(300),
    };

    public static async Task<ClusterNode> StartAsync(ClusterNodeOptions options, string extraHocon = "")
    {
        var handler = new ScriptedHandler();
        var host = new HostBuilder()
            .ConfigureServices(services =>
            {
                services.AddSingleton<IOperationHandler>(handler);
                services.AddSingleton(TimeProvider.System);
                services.AddSingleton<CoordinatorClient>();
                services.AddAkka(ClusterHostingExtensions.SystemName, b =>
                {
                    b.WithVgMeshCluster(options);
                    // Tests stop a node the way a crash does: no leave, no handover, no lease release.
                    b.AddHocon("akka.coordinated-shutdown.run-by-actor-system-terminate = off\nakka.loglevel = INFO\n" + extraHocon, HoconAddMode.Prepend);
                });
            })
            .Build();
        await host.StartAsync();
        return new ClusterNode(options.Host, options.Port, host, handler);
    }

    /// <summary>Stops the ActorSystem without leaving the cluster: the others see it vanish.</summary>
    public async Task CrashAsync()
    {
        await System.Terminate();
        await _host.StopAsync(TimeSpan.FromSeconds(5));
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _host.StopAsync(TimeSpan.FromSeconds(10));
        }
        catch (OperationCanceledException)
        {
        }

        _host.Dispose();
    }

    public static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }
}
