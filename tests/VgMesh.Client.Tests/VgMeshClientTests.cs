using System.Net.Sockets;

namespace VgMesh.Client.Tests;

public sealed class VgMeshClientTests
{
    private sealed class Throwing(Exception e) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) => Task.FromException<HttpResponseMessage>(e);
    }

    [Fact]
    public async Task A_bare_socket_error_reaches_the_caller_as_a_connection_error()
    {
        using var http = new HttpClient(new VgMeshClient.SocketErrorsAsRequestErrors(new Throwing(new SocketException((int)SocketError.NotConnected))));
        var e = await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync(new Uri("http://node1:7480/v1/lvs")));
        Assert.Equal(HttpRequestError.ConnectionError, e.HttpRequestError);
        Assert.IsType<SocketException>(e.InnerException);
        Assert.Contains("node1:7480", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Other_errors_pass_unchanged()
    {
        using var http = new HttpClient(new VgMeshClient.SocketErrorsAsRequestErrors(new Throwing(new InvalidOperationException("x"))));
        await Assert.ThrowsAsync<InvalidOperationException>(() => http.GetAsync(new Uri("http://node1:7480/v1/lvs")));
    }
}
