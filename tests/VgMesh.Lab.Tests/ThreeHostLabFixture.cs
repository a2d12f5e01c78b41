namespace VgMesh.Lab.Tests;

/// <summary>A three-host lab named "labtest", up for the whole collection.</summary>
public sealed class ThreeHostLabFixture : IAsyncLifetime
{
    public Lab Lab { get; } = new("labtest");

    public IReadOnlyDictionary<string, string> Env { get; private set; } = new Dictionary<string, string>();

    public async Task InitializeAsync()
    {
        // Always a fresh lab: one left over from an interrupted run would carry its VG along.
        await Lab.DownAsync();
        Env = await Lab.UpAsync(hosts: 3, diskSize: "1G");
    }

    public Task DisposeAsync() => Lab.DownAsync();

    public Task<string> OnAsync(string host, params string[] command) => Lab.ExecOkAsync(host, command);
}

[CollectionDefinition("three-host-lab")]
public sealed class ThreeHostLabGroup : ICollectionFixture<ThreeHostLabFixture>;
