using Akka.Actor;
using Akka.Hosting;
using VgMesh.Cluster.Hosting;

namespace VgMesh.Cluster.Coordinator;

/// <summary>The answer to a submission.</summary>
public abstract record SubmitAnswer(string Id)
{
    /// <summary>The operation's one result.</summary>
    public sealed record Finished(OperationResult Result) : SubmitAnswer(Result.Id);

    /// <summary>Not queued; nothing of it runs.</summary>
    public sealed record Refused(string OperationId, string Reason) : SubmitAnswer(OperationId);

    /// <summary>
    /// No result within the wait: the operation may have been queued and may still run (never
    /// say "failed" for that). Submitting the same id again runs it at most once and answers
    /// with its result.
    /// </summary>
    public sealed record OutcomeUnknown(string OperationId, TimeSpan Waited) : SubmitAnswer(OperationId);
}

/// <summary>
/// Submits operations to the coordinator singleton through its proxy, from any host. The
/// submission is sent again every <see cref="ResendInterval"/> until it is answered or the wait
/// runs out: a coordinator that failed over meanwhile forgets who waited, but it answers the
/// same id again (idempotent), and an operation already run answers with its recorded result.
/// </summary>
public sealed class CoordinatorClient(IRequiredActor<CoordinatorKey> coordinator, TimeProvider time)
{
    public static readonly TimeSpan ResendInterval = TimeSpan.FromSeconds(2);

    public Task<SubmitAnswer> SubmitAsync(OperationRequest request, TimeSpan wait, CancellationToken ct) =>
        AskUntilAnsweredAsync(new SubmitOperation(request), request.Id, wait, ct);

    /// <summary>
    /// Records an operation that ran on this host outside the queue (<see cref="RecordOperation"/>),
    /// sent again like a submission until answered: the coordinator records an id once and answers
    /// every resend with that one result.
    /// </summary>
    public Task<SubmitAnswer> RecordAsync(OperationRequest request, OperationOutcome outcome, TimeSpan wait, CancellationToken ct) =>
        AskUntilAnsweredAsync(new RecordOperation(request, outcome), request.Id, wait, ct);

    private async Task<SubmitAnswer> AskUntilAnsweredAsync(IClusterMessage message, string id, TimeSpan wait, CancellationToken ct)
    {
        var proxy = await coordinator.GetAsync(ct).ConfigureAwait(false);
        var started = time.GetTimestamp();
        while (true)
        {
            var left = wait - time.GetElapsedTime(started);
            if (left <= TimeSpan.Zero)
            {
                return new SubmitAnswer.OutcomeUnknown(id, time.GetElapsedTime(started));
            }

            try
            {
                var answer = await proxy.Ask<IClusterMessage>(message, left < ResendInterval ? left : ResendInterval, ct).ConfigureAwait(false);
                switch (answer)
                {
                    case OperationFinished f:
                        return new SubmitAnswer.Finished(f.Result);
                    case OperationRefused r:
                        return new SubmitAnswer.Refused(r.Id, r.Reason);
                }
            }
            catch (AskTimeoutException)
            {
                // Not answered yet: no coordinator, one failing over, or the operation still running.
            }
        }
    }

    /// <summary>The host's sanlock host id from the coordinator (see <see cref="AssignLockHostId"/>); null when no coordinator answered in <paramref name="timeout"/>.</summary>
    public async Task<LockHostIdAnswer?> AssignLockHostIdAsync(string host, int? proposed, TimeSpan timeout, CancellationToken ct)
    {
        var proxy = await coordinator.GetAsync(ct).ConfigureAwait(false);
        try
        {
            return await proxy.Ask<LockHostIdAnswer>(new AssignLockHostId(host, proposed), timeout, ct).ConfigureAwait(false);
        }
        catch (AskTimeoutException)
        {
            return null;
        }
    }

    public async Task<CoordinatorStatus?> StatusAsync(TimeSpan timeout, CancellationToken ct)
    {
        var proxy = await coordinator.GetAsync(ct).ConfigureAwait(false);
        try
        {
            return await proxy.Ask<CoordinatorStatus>(GetCoordinatorStatus.Instance, timeout, ct).ConfigureAwait(false);
        }
        catch (AskTimeoutException)
        {
            return null;
        }
    }
}
