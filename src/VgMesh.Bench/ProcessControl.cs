using System.Diagnostics;
using System.Globalization;

namespace VgMesh.Bench;

/// <summary>What tests and benchmarks do to a member process: kill it (SIGKILL), freeze it (SIGSTOP), thaw it.</summary>
internal static class ProcessControl
{
    public static void Kill(Process p)
    {
        if (!p.HasExited)
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
        }
    }

    public static void Signal(Process p, string signal)
    {
        if (p.HasExited)
        {
            return;
        }

        using var k = Process.Start("kill", ["-" + signal, p.Id.ToString(CultureInfo.InvariantCulture)]);
        k.WaitForExit();
    }

    /// <summary>Continued first: a stopped process would not die of SIGKILL until continued.</summary>
    public static void End(Process p)
    {
        Signal(p, "CONT");
        Kill(p);
        p.Dispose();
    }
}
