namespace VgMesh.Bench;

internal static class CoordinationBench
{
    public static Task<int> RunAsync(string[] args) => Task.FromResult(0);
}
