using System.Collections.Frozen;
using System.Collections.Immutable;
using System.Net;
using Envoy.Extensions.Filters.Common.Fault.V3;
using Envoy.Extensions.Filters.Http.Fault.V3;
using Envoy.Type.V3;
using Grpc.Core;
using Mesh.Client.Http;
using Mesh.Client.LoadBalancing;
using Mesh.Client.Policies;
using Mesh.Client.Resources;
using Mesh.Client.Routing;
using Polly;

namespace Mesh.Client.Tests.Http;

/// <summary>The HttpClient path's retry decision (Envoy's retry_on for HTTP) and its fault statuses, without a network.</summary>
public sealed class HttpCallStateTests
{
    private static RetryPolicyResource Retry(string conditions, params int[] statuses)
    {
        var grpc = ImmutableHashSet.CreateBuilder<StatusCode>();
        var http = ImmutableHashSet.CreateBuilder<string>();
        foreach (var condition in conditions.Split(','))
        {
            if (condition == "unavailable")
            {
                grpc.Add(StatusCode.Unavailable);
            }
            else
            {
                http.Add(condition);
            }
        }

        return new RetryPolicyResource(grpc.ToImmutable(), 3, null, TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(10), http.ToImmutable())
        {
            RetriableStatusCodes = [.. statuses],
        };
    }

    private static bool ShouldRetry(RetryPolicyResource retry, Outcome<HttpResponseMessage> outcome, Action<HttpCallState>? setup = null)
    {
        var action = new RouteActionResource([new WeightedClusterResource("c", 1)], [], null) { Retry = retry };
        using var request = new HttpRequestMessage(HttpMethod.Get, "http://greeter/");
        using var call = new HttpCallState(null!, request, request.RequestUri!, new RouteTable([], FrozenDictionary<string, ClusterPicker>.Empty), action, "c", RoutePolicy.None, buffer: null);
        setup?.Invoke(call);
        var context = ResilienceContextPool.Shared.Get(CancellationToken.None);
        try
        {
            context.Properties.Set(PolicyCall.Key, call);
            return PolicyCall.ShouldRetry(context, outcome, retry);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    private static Outcome<HttpResponseMessage> Status(int code, string? grpcStatus = null)
    {
        var response = new HttpResponseMessage((HttpStatusCode)code);
        if (grpcStatus is not null)
        {
            response.Headers.TryAddWithoutValidation("grpc-status", grpcStatus);
        }

        return Outcome.FromResult(response);
    }

    private static Outcome<HttpResponseMessage> Error(HttpRequestError error) =>
        Outcome.FromException<HttpResponseMessage>(new HttpRequestException(error, "test"));

    [Theory]
    [InlineData("5xx", 500, true)]
    [InlineData("5xx", 503, true)]
    [InlineData("5xx", 404, false)]
    [InlineData("5xx", 200, false)]
    [InlineData("gateway-error", 502, true)]
    [InlineData("gateway-error", 504, true)]
    [InlineData("gateway-error", 500, false)]
    [InlineData("retriable-4xx", 409, true)]
    [InlineData("retriable-4xx", 400, false)]
    [InlineData("connect-failure", 503, false)]
    [InlineData("reset", 503, false)]
    public void ShouldRetry_ResponseStatus_AsEnvoysRetryOn(string conditions, int status, bool expected) =>
        Assert.Equal(expected, ShouldRetry(Retry(conditions), Status(status)));

    [Fact]
    public void ShouldRetry_RetriableStatusCodes_OnlyTheListedOnes_AndOnlyWithTheCondition()
    {
        Assert.True(ShouldRetry(Retry("retriable-status-codes", 429, 503), Status(429)));
        Assert.True(ShouldRetry(Retry("retriable-status-codes", 429, 503), Status(503)));
        Assert.False(ShouldRetry(Retry("retriable-status-codes", 429), Status(500)));
        Assert.False(ShouldRetry(Retry("5xx", 429), Status(429)));
    }

    [Fact]
    public void ShouldRetry_GrpcCondition_ReadsGrpcStatus_NotTheHttpStatus()
    {
        Assert.False(ShouldRetry(Retry("unavailable"), Status(503)));
        Assert.True(ShouldRetry(Retry("unavailable"), Status(200, "14")));
        Assert.False(ShouldRetry(Retry("unavailable"), Status(200, "13")));
    }

    [Theory]
    [InlineData("connect-failure", HttpRequestError.ConnectionError, true)]
    [InlineData("connect-failure", HttpRequestError.ResponseEnded, false)]
    [InlineData("reset", HttpRequestError.ResponseEnded, true)]
    [InlineData("5xx", HttpRequestError.ConnectionError, true)]
    [InlineData("gateway-error", HttpRequestError.HttpProtocolError, true)]
    [InlineData("retriable-4xx", HttpRequestError.ConnectionError, false)]
    public void ShouldRetry_ConnectionErrors_AsEnvoysRetryOn(string conditions, HttpRequestError error, bool expected) =>
        Assert.Equal(expected, ShouldRetry(Retry(conditions), Error(error)));

    [Fact]
    public void ShouldRetry_PerTryTimeout_RetriedAsAReset_NotAsAConnectFailure()
    {
        Assert.True(ShouldRetry(Retry("5xx"), Status(504), c => c.PerTryTimedOut = true));
        Assert.True(ShouldRetry(Retry("reset"), Status(504), c => c.PerTryTimedOut = true));
        Assert.False(ShouldRetry(Retry("connect-failure"), Status(504), c => c.PerTryTimedOut = true));
    }

    [Fact]
    public void ShouldRetry_LocalAnswer_IsNeverRetried()
    {
        Assert.False(ShouldRetry(Retry("5xx"), Status(503), c => c.CanRetry = false));
    }

    [Theory]
    [InlineData(14u, 0u, 503)]
    [InlineData(7u, 0u, 403)]
    [InlineData(8u, 0u, 429)]
    [InlineData(0u, 418u, 418)]
    public void FaultAbort_HttpStatus_IsTheConfiguredOne_OrTheGrpcStatusMapping(uint grpcStatus, uint httpStatus, int expected)
    {
        var abort = new FaultAbort { Percentage = new FractionalPercent { Numerator = 100 } };
        if (httpStatus != 0)
        {
            abort.HttpStatus = httpStatus;
        }
        else
        {
            abort.GrpcStatus = grpcStatus;
        }

        var policy = FaultPolicy.From(new HTTPFault { Abort = abort })!;

        Assert.True(policy.TryDrawAbort(new NoHeaders(), out _, out var http));
        Assert.Equal(expected, http);
    }

    private sealed class NoHeaders : IRequestHeaders
    {
        public string? Get(string name) => null;
    }
}
