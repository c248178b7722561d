using Mesh.ControlPlane.Configuration;
using Mesh.ControlPlane.Model;

namespace Mesh.ControlPlane.Tests.Model;

/// <summary>How MeshModelBuilder reads Istio's timeouts, retries, faults, outlier detection and connection pools.</summary>
public class TrafficPolicyBuildTests
{
    private const string Host = "reviews.default.svc.cluster.local";

    private static MeshBuildResult Build(string? vs = null, string? dr = null)
    {
        var files = new List<(string File, string Yaml)> { ("se.yaml", TestYaml.ReviewsServiceEntry), ("dr.yaml", dr ?? TestYaml.ReviewsDestinationRule) };
        if (vs is not null)
        {
            files.Add(("vs.yaml", vs));
        }

        var resources = new List<ConfigResource>();
        foreach (var (file, yaml) in files)
        {
            var set = YamlResourceReader.Read(yaml, file, "default");
            Assert.Empty(set.Errors);
            resources.AddRange(set.Resources);
        }

        return MeshModelBuilder.Build(resources, version: 1);
    }

    private static HttpRouteRule Rule(string policy)
    {
        var result = Build(TestYaml.ReviewsRule(policy));
        Assert.Empty(result.Errors);
        return Assert.Single(result.Snapshot!.Routes[Host].Rules);
    }

    private static ConfigError SingleError(MeshBuildResult result)
    {
        Assert.Null(result.Snapshot);
        return Assert.Single(result.Errors);
    }

    // ---- retries ------------------------------------------------------------------------------------------------

    [Fact]
    public void Build_RetryOnWithStatusCodes_SplitsThemIntoRetriableStatusCodes()
    {
        var retries = Rule("retries: {attempts: 2, retryOn: \"unavailable,5xx,503,429\", backoff: 50ms}").Retries!;

        Assert.Equal("unavailable,5xx,retriable-status-codes", retries.RetryOn);
        Assert.Equal<int>([503, 429], retries.RetriableStatusCodes);
        Assert.Equal(TimeSpan.FromMilliseconds(50), retries.BackoffBaseInterval);
        Assert.Equal(TimeSpan.FromMilliseconds(500), retries.BackoffMaxInterval);
    }

    [Fact]
    public void Build_RetriesWithoutRetryOn_UseIstioDefaultConditionsAndBackoff()
    {
        var retries = Rule("retries: {attempts: 2}").Retries!;

        Assert.Equal(2, retries.Attempts);
        Assert.Equal("connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes", retries.RetryOn);
        Assert.Equal<int>([503], retries.RetriableStatusCodes);
        Assert.Equal(TimeSpan.FromMilliseconds(25), retries.BackoffBaseInterval);
        Assert.Equal(TimeSpan.FromMilliseconds(250), retries.BackoffMaxInterval);
    }

    [Fact]
    public void Build_ZeroAttempts_TurnsRetriesOff()
    {
        Assert.Equal(0, Rule("retries: {attempts: 0}").Retries!.Attempts);
    }

    [Fact]
    public void Build_ZeroAttemptsWithRetryOn_IsAnErrorAsInIstio()
    {
        var error = SingleError(Build(TestYaml.ReviewsRule("retries: {attempts: 0, retryOn: unavailable}")));

        Assert.Equal("spec.http[0].retries.attempts", error.Field);
        Assert.Contains("turns retries off", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_RetryOnWithEmptyItem_IsAnError()
    {
        var error = SingleError(Build(TestYaml.ReviewsRule("retries: {attempts: 1, retryOn: \"unavailable,\"}")));

        Assert.Equal("spec.http[0].retries.retryOn", error.Field);
        Assert.Contains("empty item", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_BackoffNotPositive_IsAnError()
    {
        var error = SingleError(Build(TestYaml.ReviewsRule("retries: {attempts: 1, backoff: 0s}")));

        Assert.Equal("spec.http[0].retries.backoff", error.Field);
        Assert.Equal("must be greater than zero", error.Message);
    }

    [Fact]
    public void Build_RetryOnWithoutGrpcStatus_WarnsThatGrpcClientsWillNotRetry()
    {
        var result = Build(TestYaml.ReviewsRule("retries: {attempts: 2, retryOn: \"5xx,reset\"}"));

        Assert.Empty(result.Errors);
        var warning = Assert.Single(result.Warnings);
        Assert.Equal("spec.http[0].retries.retryOn", warning.Field);
        Assert.Contains("will not retry", warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_MoreAttemptsThanGrpcAllows_Warns()
    {
        var result = Build(TestYaml.ReviewsRule("retries: {attempts: 9, retryOn: unavailable}"));

        Assert.Equal("spec.http[0].retries.attempts", Assert.Single(result.Warnings).Field);
    }

    // ---- faults -------------------------------------------------------------------------------------------------

    [Fact]
    public void Build_FaultPercentages_AreKeptAsWritten()
    {
        var fault = Rule("fault: {delay: {fixedDelay: 2s, percentage: {value: 12.5}}, abort: {httpStatus: 503, percentage: {value: 0.1}}}").Fault!;

        Assert.Equal(TimeSpan.FromSeconds(2), fault.Delay);
        Assert.Equal(12.5, fault.DelayPercent);
        Assert.Equal(503, fault.AbortHttpStatus);
        Assert.Equal(0.1, fault.AbortPercent);
    }

    [Fact]
    public void Build_FaultWithoutPercentage_InjectsIntoNoRequestAndWarns()
    {
        var result = Build(TestYaml.ReviewsRule("fault: {abort: {grpcStatus: UNAVAILABLE}}"));

        Assert.Empty(result.Errors);
        Assert.Equal(0, result.Snapshot!.Routes[Host].Rules[0].Fault!.AbortPercent);
        var warning = Assert.Single(result.Warnings);
        Assert.Equal("spec.http[0].fault.abort.percentage", warning.Field);
    }

    [Fact]
    public void Build_AbortWithoutErrorType_IsIgnoredWithWarningAsInIstio()
    {
        var result = Build(TestYaml.ReviewsRule("fault: {abort: {percentage: {value: 50}}}"));

        Assert.Empty(result.Errors);
        Assert.Null(result.Snapshot!.Routes[Host].Rules[0].Fault);
        Assert.Equal("spec.http[0].fault.abort", Assert.Single(result.Warnings).Field);
    }

    [Theory]
    [InlineData("unavailable")]
    [InlineData("14")]
    [InlineData("NOT_A_STATUS")]
    public void Build_GrpcStatusNotAStatusName_IsAnError(string status)
    {
        var error = SingleError(Build(TestYaml.ReviewsRule($"fault: {{abort: {{grpcStatus: \"{status}\", percentage: {{value: 5}}}}}}")));

        Assert.Equal("spec.http[0].fault.abort.grpcStatus", error.Field);
        Assert.Contains($"'{status}' is not a gRPC status name", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("fault: {}", "spec.http[0].fault")]
    [InlineData("fault: {delay: {percentage: {value: 5}}}", "spec.http[0].fault.delay.fixedDelay")]
    [InlineData("fault: {delay: {fixedDelay: 0s, percentage: {value: 5}}}", "spec.http[0].fault.delay.fixedDelay")]
    [InlineData("fault: {delay: {exponentialDelay: 1s, percentage: {value: 5}}}", "spec.http[0].fault.delay.exponentialDelay")]
    [InlineData("fault: {abort: {httpStatus: 600, percentage: {value: 5}}}", "spec.http[0].fault.abort.httpStatus")]
    [InlineData("fault: {abort: {httpStatus: 503, grpcStatus: UNAVAILABLE}}", "spec.http[0].fault.abort")]
    [InlineData("fault: {abort: {http2Error: CANCEL, percentage: {value: 5}}}", "spec.http[0].fault.abort.http2Error")]
    [InlineData("fault: {delay: {fixedDelay: 1s, percent: 101}}", "spec.http[0].fault.delay.percent")]
    [InlineData("fault: {delay: {fixedDelay: 1s, percentage: {value: -1}}}", "spec.http[0].fault.delay.percentage.value")]
    public void Build_InvalidFault_ErrorNamesTheField(string policy, string field)
    {
        var error = SingleError(Build(TestYaml.ReviewsRule(policy)));

        Assert.Equal("VirtualService default/reviews", error.Resource);
        Assert.Equal(field, error.Field);
    }

    // ---- outlier detection --------------------------------------------------------------------------------------

    [Fact]
    public void Build_EmptyOutlierDetection_TakesEnvoyDefaults()
    {
        var result = Build(dr: TestYaml.ReviewsDestinationRuleWith("{outlierDetection: {}}"));

        var outlier = result.Snapshot!.Policies[Host].Traffic.Outlier!;
        Assert.Equal(5u, outlier.Consecutive5xxErrors);
        Assert.Null(outlier.ConsecutiveGatewayErrors);
        Assert.Equal(TimeSpan.FromSeconds(10), outlier.Interval);
        Assert.Equal(TimeSpan.FromSeconds(30), outlier.BaseEjectionTime);
        Assert.Equal(TimeSpan.FromSeconds(300), outlier.MaxEjectionTime);
        Assert.Equal(10, outlier.MaxEjectionPercent);
    }

    [Fact]
    public void Build_OutlierDetectionFields_AreRead()
    {
        var result = Build(dr: TestYaml.ReviewsDestinationRuleWith(
            "{outlierDetection: {consecutive5xxErrors: 0, consecutiveGatewayErrors: 2, interval: 1s, baseEjectionTime: 10m, maxEjectionPercent: 100}}"));

        var outlier = result.Snapshot!.Policies[Host].Traffic.Outlier!;
        Assert.Equal(0u, outlier.Consecutive5xxErrors);
        Assert.Equal(2u, outlier.ConsecutiveGatewayErrors);
        Assert.Equal(TimeSpan.FromSeconds(1), outlier.Interval);
        Assert.Equal(TimeSpan.FromMinutes(10), outlier.MaxEjectionTime);
        Assert.Equal(100, outlier.MaxEjectionPercent);
    }

    [Theory]
    [InlineData("{consecutive5xxErrors: -1}", "consecutive5xxErrors")]
    [InlineData("{consecutiveGatewayErrors: -2}", "consecutiveGatewayErrors")]
    [InlineData("{interval: 0s}", "interval")]
    [InlineData("{baseEjectionTime: soon}", "baseEjectionTime")]
    [InlineData("{maxEjectionPercent: 101}", "maxEjectionPercent")]
    [InlineData("{minHealthPercent: -5}", "minHealthPercent")]
    [InlineData("{consecutiveLocalOriginFailures: 3}", "consecutiveLocalOriginFailures")]
    public void Build_InvalidOutlierDetection_ErrorNamesTheField(string outlier, string field)
    {
        var error = SingleError(Build(dr: TestYaml.ReviewsDestinationRuleWith($"{{outlierDetection: {outlier}}}")));

        Assert.Equal("DestinationRule default/reviews", error.Resource);
        Assert.Equal("spec.trafficPolicy.outlierDetection." + field, error.Field);
    }

    [Fact]
    public void Build_DeprecatedConsecutiveErrors_IsIgnoredWithWarning()
    {
        var result = Build(dr: TestYaml.ReviewsDestinationRuleWith("{outlierDetection: {consecutiveErrors: 2}}"));

        Assert.Equal(5u, result.Snapshot!.Policies[Host].Traffic.Outlier!.Consecutive5xxErrors);
        Assert.Equal("spec.trafficPolicy.outlierDetection.consecutiveErrors", Assert.Single(result.Warnings).Field);
    }

    [Fact]
    public void Build_MaxEjectionPercentZero_MeansUnsetAsInIstio()
    {
        var result = Build(dr: TestYaml.ReviewsDestinationRuleWith("{outlierDetection: {maxEjectionPercent: 0}}"));

        Assert.Equal(10, result.Snapshot!.Policies[Host].Traffic.Outlier!.MaxEjectionPercent);
        Assert.Equal("spec.trafficPolicy.outlierDetection.maxEjectionPercent", Assert.Single(result.Warnings).Field);
    }

    // ---- connection pool ----------------------------------------------------------------------------------------

    [Fact]
    public void Build_ConnectionPoolLimits_AreRead()
    {
        var result = Build(dr: TestYaml.ReviewsDestinationRuleWith("{connectionPool: {http: {http2MaxRequests: 10, http1MaxPendingRequests: 5, maxRetries: 2}}}"));

        var traffic = result.Snapshot!.Policies[Host].Traffic;
        Assert.Equal(10, traffic.MaxRequests);
        Assert.Equal(5, traffic.MaxPendingRequests);
        Assert.Equal(2, traffic.MaxRetries);
    }

    [Fact]
    public void Build_ConnectionPoolLimitsNotPositive_ReportsEachField()
    {
        var result = Build(dr: TestYaml.ReviewsDestinationRuleWith("{connectionPool: {http: {http2MaxRequests: 0, http1MaxPendingRequests: -1, maxRetries: 0}}}"));

        Assert.Null(result.Snapshot);
        Assert.Equal(
            ["http1MaxPendingRequests", "http2MaxRequests", "maxRetries"],
            result.Errors.Select(e => e.Field!.Split('.')[^1]).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Build_SubsetConnectionPool_ReplacesTheInheritedOneWhole()
    {
        var dr = TestYaml.ReviewsDestinationRuleWith("{connectionPool: {http: {http2MaxRequests: 10}}}").Replace(
            "labels: {version: v2}",
            "labels: {version: v2}\n    trafficPolicy: {connectionPool: {http: {maxRetries: 1}}}",
            StringComparison.Ordinal);

        var policy = Build(dr: dr).Snapshot!.Policies[Host];

        Assert.Equal(10, policy.FindSubset("v1")!.Traffic.MaxRequests);
        var v2 = policy.FindSubset("v2")!.Traffic;
        Assert.Null(v2.MaxRequests);
        Assert.Equal(1, v2.MaxRetries);
    }
}
