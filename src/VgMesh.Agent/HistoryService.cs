using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace VgMesh.Agent;

/// <summary>
/// Keeps this host's journal of LVM commands from growing without end: every 10 minutes the
/// entries finished before the retention are deleted. (The coordinator forgets its own history
/// after the same retention, in its journal: <c>CoordinatorSettings.HistoryRetention</c>.)
/// </summary>
public sealed partial class HistoryService(AgentOptions options, Journal journal, TimeProvider time, ILogger<HistoryService> logger) : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromMinutes(10);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            await Task.Delay(Interval, time, stoppingToken).ConfigureAwait(false);
            try
            {
                PruneOnce();
            }
            catch (SqliteException e) when (!stoppingToken.IsCancellationRequested)
            {
                LogPruneFailed(logger, e.Message); // the next round tries again
            }
        }
    }

    /// <summary>One round: how many journal entries were deleted.</summary>
    public int PruneOnce()
    {
        var before = time.GetUtcNow() - TimeSpan.FromHours(options.HistoryRetentionHours);
        var intents = journal.Prune(before);
        if (intents > 0)
        {
            LogPruned(logger, intents, before);
        }

        return intents;
    }

    [LoggerMessage(EventId = 3501, Level = LogLevel.Information, Message = "history before {Before:O} deleted: {Intents} journal entries")]
    private static partial void LogPruned(ILogger logger, int intents, DateTimeOffset before);

    [LoggerMessage(EventId = 3502, Level = LogLevel.Warning, Message = "history: pruning failed ({Reason}); the next round tries again")]
    private static partial void LogPruneFailed(ILogger logger, string reason);
}
