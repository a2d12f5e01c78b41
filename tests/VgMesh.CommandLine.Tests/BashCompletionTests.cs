namespace VgMesh.CommandLine.Tests;

public class BashCompletionTests
{
    private const string Variable = "VGMESH_TEST_COMPLETION_TIMEOUT";

    [Theory]
    [InlineData(null, 2.0)]
    [InlineData("15", 15.0)]
    [InlineData("0.5", 0.5)]
    [InlineData("0", 2.0)] // out of 0.1-60: the default, never a completion that waits for ever
    [InlineData("3600", 2.0)]
    [InlineData("soon", 2.0)]
    public void AgentTimeout_IsTwoSeconds_OrWhatTheVariableSays(string? value, double seconds)
    {
        Environment.SetEnvironmentVariable(Variable, value);
        try
        {
            Assert.Equal(TimeSpan.FromSeconds(seconds), BashCompletion.AgentTimeout(Variable));
        }
        finally
        {
            Environment.SetEnvironmentVariable(Variable, null);
        }
    }
}
