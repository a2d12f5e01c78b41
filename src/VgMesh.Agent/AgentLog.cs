using Microsoft.Extensions.Logging;

namespace VgMesh.Agent;

internal static partial class AgentLog
{
    [LoggerMessage(EventId = 3301, Level = LogLevel.Warning, Message = "journal: intent {Id} from {Started} has no result ({Command}); the reconciler re-reads the state it left")]
    public static partial void UnfinishedIntent(ILogger logger, long id, string started, string command);
}
