namespace VgMesh.Bench;

/// <summary>The benchmark modes' <c>--name value</c> options.</summary>
internal static class Args
{
    public static Dictionary<string, string> Parse(string[] args)
    {
        var d = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal))
            {
                throw new ArgumentException($"expected an option, got '{args[i]}'");
            }

            d[args[i][2..]] = args[i + 1];
        }

        return d;
    }
}
