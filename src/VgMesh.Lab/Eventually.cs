namespace VgMesh.Lab;

/// <summary>Polls until a condition holds, for tests and benchmarks that wait on real systems.</summary>
public static class Eventually
{
    public static async Task<T> UntilAsync<T>(Func<Task<T>> probe, Func<T, bool> ok, TimeSpan within, string what, TimeSpan? every = null)
    {
        ArgumentNullException.ThrowIfNull(probe);
        ArgumentNullException.ThrowIfNull(ok);
        var deadline = DateTime.UtcNow + within;
        while (true)
        {
            var v = await probe().ConfigureAwait(false);
            if (ok(v))
            {
                return v;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{what}: not reached within {within.TotalSeconds} s (last: {v})");
            }

            await Task.Delay(every ?? TimeSpan.FromMilliseconds(100)).ConfigureAwait(false);
        }
    }
}
