using System.Globalization;
using System.Text.RegularExpressions;

namespace VgMesh.Agent.Tests.InLab;

/// <summary>The audit of LVs active on two hosts without a shared claim, raised at once by the hosts involved.</summary>
[Collection("agent-lab")]
public partial class AuditLabTests(AgentLabFixture f)
{
    private async Task<double> MetricAsync(string host, string name)
    {
        var text = await f.MetricsAsync(host);
        var m = Regex.Match(text, $@"^{name}(?:\{{[^}}]*\}})? ([0-9.e+]+)$", RegexOptions.Multiline);
        return m.Success ? double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
    }

    /// <summary>Activates by hand (LVM, not vgmesh) and returns the host's UTC time of day right after.</summary>
    private async Task<TimeSpan> ActivateByHandAsync(string host, string lv)
    {
        var after = await f.Lab.ExecOkAsync(host, ["sh", "-c", $"lvchange -ay san/{lv} >/dev/null && date -u +%H:%M:%S.%N"]);
        return TimeSpan.ParseExact(after.Trim()[..12], @"hh\:mm\:ss\.fff", CultureInfo.InvariantCulture);
    }

    /// <summary>When the host's agent first logged the audit's alert for the LV (the log's UTC time of day), or null.</summary>
    private async Task<TimeSpan?> AlertLoggedAsync(string host, string lv, TimeSpan since)
    {
        var log = await f.AgentLogAsync(host);
        var times = log.Where(l => l.Contains("active-on-several-hosts: san/" + lv + " ", StringComparison.Ordinal) && TimeStamp().IsMatch(l))
            .Select(l => TimeSpan.ParseExact(l[..12], @"hh\:mm\:ss\.fff", CultureInfo.InvariantCulture))
            .Where(t => t >= since - TimeSpan.FromSeconds(1)).ToList();
        return times.Count > 0 ? times.Min() : null;
    }

    [GeneratedRegex(@"^\d\d:\d\d:\d\d\.\d\d\d ")]
    private static partial Regex TimeStamp();

    [Fact]
    public async Task AnLvActivatedByHandOnASecondHost_RaisesTheAlertThere_AndTheClaimWins()
    {
        await f.OkAsync("node1", "lv", "create", "au1", "--size", "16M");
        await f.OkAsync("node1", "lv", "activate", "au1", "--exclusive", "--host", "node2");
        var before = await MetricAsync("node3", "vgmesh_double_activations_total");

        var activated = await ActivateByHandAsync("node3", "au1");
        var logged = await AgentLabFixture.EventuallyAsync(() => AlertLoggedAsync("node3", "au1", activated), t => t is not null, TimeSpan.FromSeconds(30), "node3's agent logs the audit's alert");
        Console.WriteLine($"audit: au1 activated by hand on node3 at {activated}, alert logged at {logged} ({(logged!.Value - activated).TotalSeconds:0.00} s)");
        Assert.True(await MetricAsync("node3", "vgmesh_double_activations_total") > before);

        // The claim is node2's: node3's agent deactivates its copy (not open), node2 keeps its real table.
        await AgentLabFixture.EventuallyAsync(() => f.TableSectorsAsync("node3", "san-au1"), s => s is null, TimeSpan.FromSeconds(30), "node3's hand-made activation is undone");
        Assert.Equal(32768, await f.TableSectorsAsync("node2", "san-au1"));

        await f.OkAsync("node1", "lv", "deactivate", "au1");
        await f.OkAsync("node1", "lv", "remove", "au1");
    }

    [Fact]
    public async Task AnLvWithoutAClaimActiveOnTwoHosts_AlertMetricAndStatusOnBoth_UntilOneLetsGo()
    {
        await f.OkAsync("node1", "lv", "create", "au2", "--size", "16M");
        await ActivateByHandAsync("node1", "au2");
        var second = await ActivateByHandAsync("node2", "au2");
        var logged = await AgentLabFixture.EventuallyAsync(() => AlertLoggedAsync("node2", "au2", second), t => t is not null, TimeSpan.FromSeconds(30), "node2's agent logs the audit's alert");
        Console.WriteLine($"audit: au2 activated by hand on node2 at {second} (already on node1), alert logged at {logged} ({(logged!.Value - second).TotalSeconds:0.00} s)");

        // No claim: nothing is forced; both hosts show it until one lets go.
        foreach (var host in new[] { "node1", "node2" })
        {
            await AgentLabFixture.EventuallyAsync(() => MetricAsync(host, "vgmesh_double_active_lvs"), v => v == 1, TimeSpan.FromSeconds(30), $"{host}'s gauge counts au2");
            await AgentLabFixture.EventuallyAsync(async () => (await f.HostAsync(host, "node3"))?.Alerts ?? [],
                a => a.Any(x => x.StartsWith("active-on-several-hosts: san/au2 ", StringComparison.Ordinal)), TimeSpan.FromSeconds(30), $"{host}'s status names au2");
        }

        await f.Lab.ExecOkAsync("node1", ["lvchange", "-an", "san/au2"]);
        await AgentLabFixture.EventuallyAsync(() => MetricAsync("node2", "vgmesh_double_active_lvs"), v => v == 0, TimeSpan.FromSeconds(30), "node2's gauge clears once node1 let go");
        await f.Lab.ExecOkAsync("node2", ["lvchange", "-an", "san/au2"]);
        // The coordinator refuses the removal while a host's report still has it active: node2's
        // agent sees the deactivation by hand within its device watch and reports it.
        await AgentLabFixture.EventuallyAsync(async () => (await f.HostAsync("node2"))?.ActiveLvs,
            a => a is not null && !a.Contains("au2"), TimeSpan.FromSeconds(30), "node2 reports au2 inactive");
        await f.OkAsync("node1", "lv", "remove", "au2");
    }
}
