using Microsoft.Extensions.Logging;
using VgMesh.Lvm.Commands;

namespace VgMesh.Agent.Lls;

/// <summary>
/// Mail to the host's administrator through its own MTA (<c>sendmail -t</c>, or the configured
/// command), the message on stdin. A mail that cannot be sent is logged, never fatal: the
/// metric and the alert rule tell the same.
/// </summary>
public sealed partial class Mailer(LlsOptions options, TimeProvider time, ILogger<Mailer> logger)
{
    public async Task SendAsync(string subject, string body, CancellationToken ct)
    {
        if (options.AdminMail is not { } to)
        {
            return;
        }

        // Header injection: nothing from a container reaches a header except LV names, which have no line breaks.
        var message = $"To: {to}\nSubject: {subject.ReplaceLineEndings(" ")}\nContent-Type: text/plain; charset=utf-8\n\n{body}\n";
        try
        {
            var r = await ChildProcess.RunAsync(options.MailArgv, null, message, time, ct).ConfigureAwait(false);
            if (!r.Succeeded)
            {
                LogMailFailed(logger, to, subject, $"{r.CommandLine} exited {r.ExitCode}: {r.StderrSummary}");
            }
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            LogMailFailed(logger, to, subject, $"{options.MailArgv[0]} cannot run: {e.Message}");
        }
    }

    [LoggerMessage(EventId = 3611, Level = LogLevel.Warning, Message = "mail to {To} ({Subject}) not sent: {Why}")]
    private static partial void LogMailFailed(ILogger logger, string to, string subject, string why);
}
