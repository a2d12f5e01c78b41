using System.CommandLine;
using System.Net.Sockets;
using VgMesh.Client;

namespace VgMesh.Cli;

/// <summary>
/// Exit codes, the same since the first CLI: 0 done and applied everywhere; 1 refused or failed
/// (the message says why and what to do); 2 usage; 3 the agent cannot be reached; 4 done, but
/// some hosts had not applied it when the wait ended.
/// </summary>
internal static class ExitCodes
{
    public const int Ok = 0, Failed = 1, Usage = 2, Unreachable = 3, Lagging = 4;

    public const string Summary = "0 done, 1 refused or failed, 2 usage, 3 agent unreachable, 4 not yet applied everywhere";
}

/// <summary><c>vgmesh NOUN VERB [ARGS]</c>, mirroring the API; the verbs are defined once in <see cref="CliCommands"/>.</summary>
internal static class CliApp
{
    public static async Task<int> RunAsync(string[] argv, TextWriter stdout, TextWriter stderr, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(argv);
        var root = CliCommands.Build();
        // No response files: '@name' is an argument (an LV name the agent refuses with invalid-name), never a file to read.
        var parsed = root.Parse(argv, new ParserConfiguration { ResponseFileTokenReplacer = null });
        var config = new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false };
        var code = await parsed.InvokeAsync(config, ct).ConfigureAwait(false);
        // A parse error (unknown verb, missing argument) prints the error, suggestions and help: a usage error.
        return parsed.Errors.Count > 0 ? ExitCodes.Usage : code;
    }

    /// <summary>Runs one verb against the agent and turns every failure into its exit code and a message naming the next step.</summary>
    public static async Task<int> WithClientAsync(ParseResult parsed, Func<VgMeshClient, bool, TextWriter, TextWriter, CancellationToken, Task<int>> verb, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(parsed);
        ArgumentNullException.ThrowIfNull(verb);
        var stdout = parsed.InvocationConfiguration.Output;
        var stderr = parsed.InvocationConfiguration.Error;
        var target = CliCommands.Target(parsed);
        VgMeshClient client;
        try
        {
            client = target.Connect();
        }
        catch (Exception e) when (e is ArgumentException or IOException or UriFormatException or UnauthorizedAccessException)
        {
            await stderr.WriteLineAsync($"vgmesh: {e.Message}").ConfigureAwait(false);
            return ExitCodes.Usage;
        }

        using (client)
        {
            try
            {
                return await verb(client, parsed.GetValue(CliCommands.Json), stdout, stderr, ct).ConfigureAwait(false);
            }
            catch (VgMeshApiException e)
            {
                await stderr.WriteLineAsync($"vgmesh: {e.Problem.Code}: {e.Problem.Detail}").ConfigureAwait(false);
                return ExitCodes.Failed;
            }
            catch (HttpRequestException e) when (e.InnerException is SocketException or IOException || e.HttpRequestError == HttpRequestError.ConnectionError)
            {
                await stderr.WriteLineAsync($"vgmesh: cannot reach the agent at {target.Where}: {e.Message}. Is vgmeshd running (systemctl status vgmeshd)?").ConfigureAwait(false);
                return ExitCodes.Unreachable;
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                // The client's own bound (HttpClient.Timeout, or the whole of an event stream).
                await stderr.WriteLineAsync($"vgmesh: the agent at {target.Where} did not answer in time; 'vgmesh cluster status' and its log (journalctl -u vgmeshd) show whether it is busy or stuck.").ConfigureAwait(false);
                return ExitCodes.Unreachable;
            }
        }
    }
}
