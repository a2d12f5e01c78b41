using System.Net;
using System.Net.Sockets;
using System.Text;
using VgMesh.Agent.Lls;
using VgMesh.Client;
using VgMesh.Lvm;
using VgMesh.Proof.Fuzzing;

namespace VgMesh.Proof.Tests.Fuzzing;

/// <summary>
/// The fuzzer is the oracle of its run: these tests hold it to the rules it claims (what it calls
/// invalid is invalid by the validators, what it calls valid is valid) and to replayability.
/// </summary>
public class FuzzCasesTests
{
    private static readonly ICaseSource[] Sources = [new ApiCases("token", ["node1", "node2"]), new LlsCases(["victim"])];

    [Fact]
    public void SameSeedAndIndex_SameBytes_WhateverTheOrder()
    {
        foreach (var source in Sources)
        {
            var forward = Enumerable.Range(0, 300).Select(i => source.Make(i, new Random(FuzzRun.Mix(7, i))).Request).ToList();
            var backward = Enumerable.Range(0, 300).Reverse().Select(i => source.Make(i, new Random(FuzzRun.Mix(7, i))).Request).Reverse().ToList();
            Assert.All(Enumerable.Range(0, 300), i => Assert.Equal(forward[i], backward[i]));
            Assert.NotEqual(forward, Enumerable.Range(0, 300).Select(i => source.Make(i, new Random(FuzzRun.Mix(8, i))).Request).ToList());
        }
    }

    [Fact]
    public void RawNames_NeverMakeAnotherRequest_NoQueryFragmentOrLatin1Replacement()
    {
        // The CI of b1f218c: "a\u202eb", sent raw in Latin-1, went out as "DELETE /v1/lvs/a?b".
        foreach (var source in Sources)
        {
            var raw = Enumerable.Range(0, 20_000).Select(i => source.Make(i, new Random(FuzzRun.Mix(20261206, i))))
                .Where(c => c.Kind == "name" && c.Expect == Expect.Garbage)
                .Select(c => Encoding.Latin1.GetString(c.Request).Split("\r\n")[0])
                .ToList();
            Assert.NotEmpty(raw);
            Assert.All(raw, line => Assert.DoesNotMatch(@"^\S+ \S*[?#]", line));
        }
    }

    [Fact]
    public void HostileLvNames_AreAllRefusedByLvm()
    {
        var r = new Random(1);
        for (var i = 0; i < 5000; i++)
        {
            var name = Hostile.LvName(r);
            Assert.Throws<InvalidLvmNameException>(() => LvmNames.ValidateLv(name));
        }
    }

    [Fact]
    public void HostileLlsNames_AreAllRefused()
    {
        var r = new Random(2);
        for (var i = 0; i < 5000; i++)
        {
            var name = Hostile.LlsName(r);
            Assert.Throws<InvalidLvmNameException>(() => LlsNames.LvName("node1", "c1", name));
        }
    }

    [Fact]
    public void HostileSizesAndTags_AreAllRefused_PoolNamesAllValid()
    {
        var r = new Random(3);
        for (var i = 0; i < 2000; i++)
        {
            var size = Hostile.Size(r);
            Assert.False(SizeSpec.TryParse(size, out _, out _), $"'{size}' parses");
            var absolute = Hostile.AbsoluteSize(r);
            Assert.False(SizeSpec.TryParse(absolute, out var a, out _) && !a.IsRelative, $"'{absolute}' is a valid absolute size");
            var tag = Hostile.Tag(r);
            Assert.Throws<InvalidLvmNameException>(() => LvmNames.ValidateTag(tag));
        }

        Assert.All(ApiCases.Pool, n => LvmNames.ValidateLv(n));
        Assert.All(LlsCases.Pool, n => LlsNames.LvName("node1", "c1", n));
    }

    [Fact]
    public void EveryKindIsMade_ValidOnesAreAFewPercent()
    {
        foreach (var source in Sources)
        {
            var cases = Enumerable.Range(0, 10_000).Select(i => source.Make(i, new Random(FuzzRun.Mix(5, i)))).ToList();
            var valid = cases.Count(c => c.Expect == Expect.Any);
            // Valid operations run LVM (about a second each in the lab): a few percent keep a run short.
            Assert.InRange(valid, 30, 150);
            Assert.Contains(cases, c => c.Twice);
            Assert.Contains(cases, c => c.Expect == Expect.Garbage);
            Assert.Contains(cases, c => c.Expect == Expect.Refused);
        }

        Assert.Contains(Enumerable.Range(0, 2000).Select(i => Sources[0].Make(i, new Random(i))), c => c.Expect == Expect.Unauthorized);
        Assert.Contains(Enumerable.Range(0, 2000).Select(i => Sources[1].Make(i, new Random(i))), c => c.Expect == Expect.Hidden);
    }

    [Theory]
    [InlineData(Expect.Refused, 400, "", false)]
    [InlineData(Expect.Refused, 200, "{}", true)]
    [InlineData(Expect.Refused, 0, "", true)]
    [InlineData(Expect.Refused, 409, "{\"code\":\"unsafe-argument\"}", true)]
    [InlineData(Expect.Any, 201, "", false)]
    [InlineData(Expect.Any, 409, "", false)]
    [InlineData(Expect.Any, 500, "", true)]
    [InlineData(Expect.Any, 503, "", true)]
    [InlineData(Expect.Any, 503, "{\"code\":\"no-coordinator\"}", false)]
    [InlineData(Expect.Refused, 503, "{\"code\":\"no-coordinator\"}", true)]
    [InlineData(Expect.Garbage, 0, "", false)]
    [InlineData(Expect.Garbage, 505, "", false)]
    [InlineData(Expect.Garbage, 200, "", true)]
    [InlineData(Expect.Hidden, 404, "", false)]
    [InlineData(Expect.Hidden, 403, "", true)]
    [InlineData(Expect.Unauthorized, 401, "", false)]
    [InlineData(Expect.Unauthorized, 404, "", true)]
    public void Verdict_KeepsEachPromise(Expect expect, int status, string body, bool violation)
    {
        var c = new FuzzCase(0, "t", expect, []);
        Assert.Equal(violation, Verdict.Judge(c, new Answer(status, body, 1)) is not null);
    }

    [Fact]
    public void Verdict_NoAnswerInTime_IsAViolation() =>
        Assert.NotNull(Verdict.Judge(new FuzzCase(0, "t", Expect.Garbage, []), new Answer(0, "", 1, TimedOut: true)));

    [Fact]
    public void Summary_IsPrintable_AndShort()
    {
        var c = new FuzzCase(0, "t", Expect.Refused, RawHttp.Request("POST", "/v1/lvs/a%0Ab", "t", "application/json", Encoding.UTF8.GetBytes("{\"name\":\"a\nb\u0000" + new string('x', 2000) + "\"}")));
        Assert.DoesNotContain(c.Summary, ch => ch < ' ' || ch > '~');
        Assert.StartsWith("POST /v1/lvs/a%0Ab HTTP/1.1 {\"name\":\"a\\x0ab\\x00", c.Summary, StringComparison.Ordinal);
        Assert.True(c.Summary.Length < 400);
    }

    [Fact]
    public async Task RawHttp_ReadsTheAnswer_AndHalfClosesForShortBodies()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var server = Task.Run(async () =>
        {
            using var client = await listener.AcceptTcpClientAsync();
            var stream = client.GetStream();
            var got = new MemoryStream();
            var buffer = new byte[1024];
            int n;
            // Reads to the end: only a half-close ends this loop, as it ends a server's wait for a body.
            while ((n = await stream.ReadAsync(buffer)) > 0)
            {
                got.Write(buffer, 0, n);
            }

            await stream.WriteAsync("HTTP/1.1 400 Bad Request\r\nContent-Type: application/problem+json\r\n\r\n{\"code\":\"bad-request\"}"u8.ToArray());
            return Encoding.Latin1.GetString(got.ToArray());
        });

        var a = await RawHttp.SendAsync(Target.Tcp("127.0.0.1", port, "t"), RawHttp.Request("POST", "/v1/lvs", "t", "application/json", "{"u8.ToArray()), halfClose: true,
            TimeSpan.FromSeconds(30), CancellationToken.None);
        Assert.Equal((400, "{\"code\":\"bad-request\"}", false), (a.Status, a.Body, a.TimedOut));
        var sent = await server;
        Assert.StartsWith("POST /v1/lvs HTTP/1.1\r\nHost: vgmesh\r\nAuthorization: Bearer t\r\n", sent, StringComparison.Ordinal);
        Assert.EndsWith("Content-Length: 1\r\nConnection: close\r\n\r\n{", sent, StringComparison.Ordinal);
    }
}
