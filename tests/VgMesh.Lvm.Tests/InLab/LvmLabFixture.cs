using Microsoft.Extensions.Logging.Abstractions;
using VgMesh.Lvm.Commands;
using VgMesh.Lvm.DeviceMapper;

namespace VgMesh.Lvm.Tests.InLab;

/// <summary>
/// A two-host lab of its own (so it never collides with another test project's lab) with a VG
/// on the shared disk. The driver runs on the machine; its commands reach a host through
/// <c>ops/lab exec</c> as the runner's command prefix, exactly as an agent uses chroot or nsenter.
/// </summary>
public sealed class LvmLabFixture : IAsyncLifetime
{
    public const string Vg = "vgt";

    public global::VgMesh.Lab.Lab Lab { get; } = new("lvmtest");

    public MetadataWritePermit Permit { get; } = MetadataWritePermit.SingleHost("node1");

    public async Task InitializeAsync()
    {
        // Always a fresh lab: one left over from an interrupted run would carry its VG along.
        await Lab.DownAsync();
        await Lab.UpAsync(hosts: 2, diskSize: "1G");
        await Lab.ExecOkAsync("node1", ["lvm", "pvcreate", "-q", "/dev/ubda"]);
        await Lab.ExecOkAsync("node1", ["lvm", "vgcreate", "-q", Vg, "/dev/ubda"]);
    }

    public Task DisposeAsync() => Lab.DownAsync();

    public LvmRunner Runner(string host, Func<LvmRunnerOptions, LvmRunnerOptions>? tweak = null) =>
        new((tweak ?? (o => o))(Lab.RunnerOptionsFor(host)), NullLogger<LvmRunner>.Instance, TimeProvider.System);

    public LvmDriver Driver(string host = "node1") => new(Runner(host));

    public DmSetup Dm(string host = "node1") => new(Runner(host));

    public Task<string> OnAsync(string host, params string[] command) => Lab.ExecOkAsync(host, command);
}

[CollectionDefinition("lvm-lab")]
public sealed class LvmLabGroup : ICollectionFixture<LvmLabFixture>;
