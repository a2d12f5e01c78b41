using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using VgMesh.Cluster.Coordinator;
using VgMesh.Cluster.Hosting;

namespace VgMesh.Bench;

/// <summary>
/// One agent's cluster part inside this process, for tests and benchmarks: a real host with a
/// real ActorSystem on loopback, wired as vgmeshd wires it (AddAkka + WithVgMeshCluster), with
/// the operation handler the caller gives.
/// </summary>
public sealed class LocalClusterNode<THandler> : IAsyncDisposable
    where THandler : class, IOperationHandler
{
    private readonly IHost _host;

    internal LocalClusterNode(string name, int port, IHost host, THandler handler)
    {
        Name = name;
        Port = port;
        _host = host;
        Handler = handler;
    }

    public string Name { get; }

    public int Port { get; }

    public THandler Handler { get; }

    public ActorSystem System => _host.Services.GetRequiredService<ActorSystem>();

    public CoordinatorClient Client => _host.Services.GetRequiredService<CoordinatorClient>();

    public Akka.Cluster.Cluster Cluster => Akka.Cluster.Cluster.Get(System);

    /// <summary>Stops the ActorSystem without leaving the cluster: the others see it vanish.</summary>
    public async Task CrashAsync()
    {
        await System.Terminate().ConfigureAwait(false);
        await _host.StopAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _host.StopAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        _host.Dispose();
    }
}

/// <summary>Starts <see cref="LocalClusterNode{THandler}"/>s.</summary>
public static class LocalCluster
{
    /// <summary>Settings for a node on loopback, with timings short enough for tests to run in seconds.</summary>
    public static ClusterNodeOptions Options(string name, int port, int seedPort, string journal, string certificates) => new()
    {
        CertificateDirectory = certificates,
        Host = name,
        Hostname = "127.0.0.1",
        Port = port,
        SeedNodes = [$"127.0.0.1:{seedPort}"],
        JournalConnectionString = journal,
        HeartbeatPause = TimeSpan.FromSeconds(2),
        StableAfter = TimeSpan.FromSeconds(3),
        DownRemovalMargin = TimeSpan.FromSeconds(1),
        LeaseTtl = TimeSpan.FromSeconds(4),
        LeaseHeartbeat = TimeSpan.FromMilliseconds(500),
        LeaseSafetyMargin = TimeSpan.FromMilliseconds(1500),
        LeaseRetry = TimeSpan.FromMilliseconds(300),
    };

    public static async Task<LocalClusterNode<THandler>> StartAsync<THandler>(ClusterNodeOptions options, THandler handler, string logLevel = "INFO")
        where THandler : class, IOperationHandler
    {
        var host = new HostBuilder()
            .ConfigureServices(services =>
            {
                services.AddSingleton<IOperationHandler>(handler);
                services.AddSingleton(TimeProvider.System);
                services.AddSingleton<CoordinatorClient>();
                services.AddAkka(ClusterHostingExtensions.SystemName, b =>
                {
                    b.WithVgMeshCluster(options);
                    // Stopped the way a crash stops it: no leave, no handover, no lease release.
                    b.AddHocon($"akka.coordinated-shutdown.run-by-actor-system-terminate = off\nakka.loglevel = {logLevel}\n", HoconAddMode.Prepend);
                });
            })
            .Build();
        await host.StartAsync().ConfigureAwait(false);
        return new LocalClusterNode<THandler>(options.Host, options.Port, host, handler);
    }
}

public static class FreePorts
{
    public static int Next()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }
}
