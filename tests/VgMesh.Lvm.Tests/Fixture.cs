namespace VgMesh.Lvm.Tests;

/// <summary>Real LVM 2.03.16 / dmsetup outputs recorded in the lab by ops/record-fixtures.</summary>
internal static class Fixture
{
    public static string Read(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", name));

    public static VgMesh.Lvm.Commands.ProcessResult Failure(string name, IReadOnlyList<string>? argv = null) =>
        new(argv ?? ["lvm"], int.Parse(Read($"errors/{name}.exit").Trim(), System.Globalization.CultureInfo.InvariantCulture), "", Read($"errors/{name}.stderr"), TimeSpan.Zero);
}
