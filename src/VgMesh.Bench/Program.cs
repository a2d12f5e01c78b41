using VgMesh.Bench;

return args.FirstOrDefault() switch
{
    "akka-member" => await AkkaMemberMode.RunAsync(args[1..]),
    "coordination" => await ClusterBench.RunAsync(args[1..]),
    "sync-sender" => SyncSenderBench.Run(args[1..]),
    "random-writes" => RandomWrites.Run(args[1..]),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: vgmesh-bench akka-member --host H --port P --seed HOST:PORT --journal CONNSTR --certs DIR --commands FILE [--step-ms N]\n       vgmesh-bench coordination [--trials N] [--heartbeat-pause S] [--stable-after S] [--down-removal-margin S] [--lease-ttl S]\n       vgmesh-bench sync-sender [--chunks N]\n       vgmesh-bench random-writes --device DEV [--fraction F] [--seed N]");
    return 2;
}
