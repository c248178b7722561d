using Google.Protobuf.WellKnownTypes;
using Mesh.Client.LoadBalancing.OutlierDetection;
using EnvoyOutlierDetection = Envoy.Config.Cluster.V3.OutlierDetection;

namespace Mesh.Client.Tests.OutlierDetection;

public class OutlierDetectionConfigTests
{
    [Fact]
    public void FromProto_Null_ReturnsNullWithoutError()
    {
        var config = OutlierDetectionConfig.FromProto(null, out var error);

        Assert.Null(config);
        Assert.Null(error);
    }

    [Fact]
    public void FromProto_Empty_UsesEnvoyDefaultsWithSuccessRateAndConsecutive5xxOnAndFailurePercentageOff()
    {
        var config = OutlierDetectionConfig.FromProto(new EnvoyOutlierDetection(), out var error);

        Assert.Null(error);
        Assert.NotNull(config);
        Assert.Equal(TimeSpan.FromSeconds(10), config.Interval);
        Assert.Equal(TimeSpan.FromSeconds(30), config.BaseEjectionTime);
        Assert.Equal(TimeSpan.FromSeconds(300), config.MaxEjectionTime);
        Assert.Equal(10u, config.MaxEjectionPercent);
        Assert.Equal(new SuccessRateEjectionConfig { StdevFactor = 1900, EnforcementPercentage = 100, MinimumHosts = 5, RequestVolume = 100 }, config.SuccessRateEjection);
        Assert.Null(config.FailurePercentageEjection);
        Assert.Equal(new Consecutive5xxEjectionConfig { Threshold = 5, EnforcementPercentage = 100 }, config.Consecutive5xx);
    }

    [Fact]
    public void FromProto_AllFieldsSet_MapsEachField()
    {
        var proto = new EnvoyOutlierDetection
        {
            Interval = Duration.FromTimeSpan(TimeSpan.FromSeconds(3)),
            BaseEjectionTime = Duration.FromTimeSpan(TimeSpan.FromSeconds(7)),
            MaxEjectionTime = Duration.FromTimeSpan(TimeSpan.FromSeconds(70)),
            MaxEjectionPercent = 40,
            SuccessRateStdevFactor = 1000,
            EnforcingSuccessRate = 60,
            SuccessRateMinimumHosts = 3,
            SuccessRateRequestVolume = 20,
            FailurePercentageThreshold = 50,
            EnforcingFailurePercentage = 80,
            FailurePercentageMinimumHosts = 4,
            FailurePercentageRequestVolume = 10,
            Consecutive5Xx = 7,
            EnforcingConsecutive5Xx = 90,
        };

        var config = OutlierDetectionConfig.FromProto(proto, out var error);

        Assert.Null(error);
        Assert.Equal(
            new OutlierDetectionConfig
            {
                Interval = TimeSpan.FromSeconds(3),
                BaseEjectionTime = TimeSpan.FromSeconds(7),
                MaxEjectionTime = TimeSpan.FromSeconds(70),
                MaxEjectionPercent = 40,
                SuccessRateEjection = new SuccessRateEjectionConfig { StdevFactor = 1000, EnforcementPercentage = 60, MinimumHosts = 3, RequestVolume = 20 },
                FailurePercentageEjection = new FailurePercentageEjectionConfig { Threshold = 50, EnforcementPercentage = 80, MinimumHosts = 4, RequestVolume = 10 },
                Consecutive5xx = new Consecutive5xxEjectionConfig { Threshold = 7, EnforcementPercentage = 90 },
            },
            config);
    }

    [Fact]
    public void FromProto_EnforcingFailurePercentageSetWithoutOtherFields_UsesFailurePercentageDefaults()
    {
        var config = OutlierDetectionConfig.FromProto(new EnvoyOutlierDetection { EnforcingFailurePercentage = 100 }, out _);

        Assert.Equal(new FailurePercentageEjectionConfig { Threshold = 85, EnforcementPercentage = 100, MinimumHosts = 5, RequestVolume = 50 }, config!.FailurePercentageEjection);
    }

    [Fact]
    public void FromProto_EnforcingZero_TurnsEachAlgorithmOff()
    {
        var proto = new EnvoyOutlierDetection
        {
            EnforcingSuccessRate = 0,
            EnforcingFailurePercentage = 0,
            EnforcingConsecutive5Xx = 0,
            SuccessRateRequestVolume = 1,
            FailurePercentageThreshold = 1,
        };

        var config = OutlierDetectionConfig.FromProto(proto, out var error);

        Assert.Null(error);
        Assert.Null(config!.SuccessRateEjection);
        Assert.Null(config.FailurePercentageEjection);
        Assert.Null(config.Consecutive5xx);
        Assert.False(config.IsEnabled);
    }

    [Fact]
    public void FromProto_Consecutive5xxZero_TurnsConsecutive5xxOff()
    {
        var config = OutlierDetectionConfig.FromProto(new EnvoyOutlierDetection { Consecutive5Xx = 0 }, out _);

        Assert.Null(config!.Consecutive5xx);
        Assert.NotNull(config.SuccessRateEjection);
    }

    [Theory]
    [InlineData("max_ejection_percent")]
    [InlineData("enforcing_success_rate")]
    [InlineData("failure_percentage_threshold")]
    [InlineData("enforcing_failure_percentage")]
    [InlineData("enforcing_consecutive_5xx")]
    public void FromProto_PercentAbove100_FailsNamingTheField(string field)
    {
        var proto = new EnvoyOutlierDetection();
        switch (field)
        {
            case "max_ejection_percent": proto.MaxEjectionPercent = 101; break;
            case "enforcing_success_rate": proto.EnforcingSuccessRate = 101; break;
            case "failure_percentage_threshold": proto.FailurePercentageThreshold = 150; break;
            case "enforcing_failure_percentage": proto.EnforcingFailurePercentage = 101; break;
            default: proto.EnforcingConsecutive5Xx = 200; break;
        }

        var config = OutlierDetectionConfig.FromProto(proto, out var error);

        Assert.Null(config);
        Assert.NotNull(error);
        Assert.Contains($"outlier_detection.{field}", error, StringComparison.Ordinal);
    }

    [Fact]
    public void FromProto_Percent100_IsAccepted()
    {
        var proto = new EnvoyOutlierDetection
        {
            MaxEjectionPercent = 100,
            EnforcingSuccessRate = 100,
            FailurePercentageThreshold = 100,
            EnforcingFailurePercentage = 100,
            EnforcingConsecutive5Xx = 100,
        };

        var config = OutlierDetectionConfig.FromProto(proto, out var error);

        Assert.Null(error);
        Assert.Equal(100u, config!.MaxEjectionPercent);
    }

    [Theory]
    [InlineData("interval")]
    [InlineData("base_ejection_time")]
    [InlineData("max_ejection_time")]
    public void FromProto_NegativeDuration_FailsNamingTheField(string field)
    {
        var negative = new Duration { Seconds = -1 };
        var proto = new EnvoyOutlierDetection();
        switch (field)
        {
            case "interval": proto.Interval = negative; break;
            case "base_ejection_time": proto.BaseEjectionTime = negative; break;
            default: proto.MaxEjectionTime = negative; break;
        }

        var config = OutlierDetectionConfig.FromProto(proto, out var error);

        Assert.Null(config);
        Assert.Equal($"outlier_detection.{field}: must not be negative", error);
    }

    [Fact]
    public void FromProto_MalformedDuration_Fails()
    {
        var proto = new EnvoyOutlierDetection { BaseEjectionTime = new Duration { Seconds = 1, Nanos = -5 } };

        var config = OutlierDetectionConfig.FromProto(proto, out var error);

        Assert.Null(config);
        Assert.StartsWith("outlier_detection.base_ejection_time: not a valid duration", error, StringComparison.Ordinal);
    }

    [Fact]
    public void FromProto_ZeroInterval_Fails()
    {
        var config = OutlierDetectionConfig.FromProto(new EnvoyOutlierDetection { Interval = new Duration() }, out var error);

        Assert.Null(config);
        Assert.Equal("outlier_detection.interval: must be greater than 0", error);
    }

    [Fact]
    public void FromProto_ZeroEjectionTimes_AreAccepted()
    {
        var proto = new EnvoyOutlierDetection { BaseEjectionTime = new Duration(), MaxEjectionTime = new Duration() };

        var config = OutlierDetectionConfig.FromProto(proto, out var error);

        Assert.Null(error);
        Assert.Equal(TimeSpan.Zero, config!.BaseEjectionTime);
        Assert.Equal(TimeSpan.Zero, config.MaxEjectionTime);
    }

    [Fact]
    public void FromProto_SeveralInvalidFields_ReportsEveryOne()
    {
        var proto = new EnvoyOutlierDetection
        {
            Interval = new Duration { Seconds = -10 },
            MaxEjectionPercent = 101,
            EnforcingFailurePercentage = 300,
        };

        OutlierDetectionConfig.FromProto(proto, out var error);

        Assert.NotNull(error);
        Assert.Contains("outlier_detection.interval", error, StringComparison.Ordinal);
        Assert.Contains("outlier_detection.max_ejection_percent: 101 is more than 100", error, StringComparison.Ordinal);
        Assert.Contains("outlier_detection.enforcing_failure_percentage: 300 is more than 100", error, StringComparison.Ordinal);
    }
}
