using Mesh.Client.LoadBalancing;
using Mesh.Client.LoadBalancing.OutlierDetection;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.Client.Tests.OutlierDetection;

public class OutlierDetectorTests
{
    private static readonly TimeSpan Second = TimeSpan.FromSeconds(1);

    // Consecutive 5xx alone, every endpoint allowed out: interval 10 s, base 30 s, max 300 s.
    private static readonly OutlierDetectionConfig Consecutive = new()
    {
        MaxEjectionPercent = 100,
        Consecutive5xx = new Consecutive5xxEjectionConfig(),
    };

    private static readonly OutlierDetectionConfig SuccessRate = new()
    {
        MaxEjectionPercent = 100,
        SuccessRateEjection = new SuccessRateEjectionConfig(),
    };

    private static readonly OutlierDetectionConfig FailurePercentage = new()
    {
        MaxEjectionPercent = 100,
        FailurePercentageEjection = new FailurePercentageEjectionConfig(),
    };

    [Fact]
    public void RecordResult_FailuresUpToThreshold_EjectOnlyAtTheThreshold()
    {
        using var harness = new Harness(Consecutive, 3);
        var endpoint = harness.Endpoints[0];

        Fail(harness.Detector, endpoint, 4);
        Assert.False(harness.Detector.IsEjected(endpoint));
        Assert.Equal(0, harness.Changes);

        Fail(harness.Detector, endpoint, 1);
        Assert.True(harness.Detector.IsEjected(endpoint));
        Assert.False(harness.Detector.IsEjected(harness.Endpoints[1]));
        Assert.Equal(1, harness.Changes);
    }

    [Fact]
    public void RecordResult_SuccessBetweenFailures_ResetsTheRun()
    {
        using var harness = new Harness(Consecutive, 3);
        var endpoint = harness.Endpoints[0];

        Fail(harness.Detector, endpoint, 4);
        harness.Detector.RecordResult(endpoint, success: true);
        Fail(harness.Detector, endpoint, 4);
        Assert.False(harness.Detector.IsEjected(endpoint));

        Fail(harness.Detector, endpoint, 1);
        Assert.True(harness.Detector.IsEjected(endpoint));
    }

    [Fact]
    public void RecordResult_UnknownEndpoint_IsIgnored()
    {
        using var harness = new Harness(Consecutive, 2);
        var stranger = new EndpointState("10.9.9.9", 80, null);

        Fail(harness.Detector, stranger, 10);

        Assert.False(harness.Detector.IsEjected(stranger));
        Assert.Equal(0, harness.Changes);
    }

    [Fact]
    public void Sweep_FirstEjection_LastsBaseEjectionTimeThenReturns()
    {
        using var harness = new Harness(Consecutive, 3);
        var endpoint = harness.Endpoints[0];
        Fail(harness.Detector, endpoint, 5);

        harness.Sweep(2);
        Assert.True(harness.Detector.IsEjected(endpoint));

        harness.Sweep(1); // the sweep at 30 s: 1 x 30 s has passed.
        Assert.False(harness.Detector.IsEjected(endpoint));
        Assert.Equal(2, harness.Changes);
    }

    [Fact]
    public void Sweep_EjectionBetweenSweeps_ReturnsAtTheFirstSweepAfterItsTime()
    {
        using var harness = new Harness(Consecutive, 3);
        var endpoint = harness.Endpoints[0];
        harness.Time.Advance(5 * Second);
        Fail(harness.Detector, endpoint, 5); // ejected at 5 s, due back at 35 s; sweeps run every 10 s.

        harness.Time.Advance(5 * Second);
        harness.Sweep(2);
        Assert.True(harness.Detector.IsEjected(endpoint)); // 30 s: 25 s out.

        harness.Sweep(1);
        Assert.False(harness.Detector.IsEjected(endpoint));
    }

    [Fact]
    public void Sweep_ReEjection_GrowsTheMultiplier()
    {
        using var harness = new Harness(Consecutive, 3);
        var endpoint = harness.Endpoints[0];
        Fail(harness.Detector, endpoint, 5);
        harness.Sweep(3);
        Assert.False(harness.Detector.IsEjected(endpoint));

        Fail(harness.Detector, endpoint, 5); // second ejection at 30 s: 2 x 30 s.
        harness.Sweep(5);
        Assert.True(harness.Detector.IsEjected(endpoint));

        harness.Sweep(1);
        Assert.False(harness.Detector.IsEjected(endpoint));
    }

    [Fact]
    public void Sweep_ManyReEjections_AreCappedByMaxEjectionTime()
    {
        var config = Consecutive with { MaxEjectionTime = TimeSpan.FromSeconds(50) };
        using var harness = new Harness(config, 3);
        var endpoint = harness.Endpoints[0];

        // Each ejection starts right after the sweep that ended the previous one; the multiplier keeps growing
        // (1, 2, 3, 4) but the time stops at 50 s from the second ejection on.
        var expected = new[] { 30, 50, 50, 50 };
        foreach (var seconds in expected)
        {
            Fail(harness.Detector, endpoint, 5);
            harness.Sweep((seconds / 10) - 1);
            Assert.True(harness.Detector.IsEjected(endpoint));
            harness.Sweep(1);
            Assert.False(harness.Detector.IsEjected(endpoint), $"still ejected after {seconds} s");
        }
    }

    [Fact]
    public void Sweep_MaxEjectionTimeBelowBase_CapsAtBase()
    {
        var config = Consecutive with { MaxEjectionTime = TimeSpan.FromSeconds(10) };
        using var harness = new Harness(config, 3);
        var endpoint = harness.Endpoints[0];
        Fail(harness.Detector, endpoint, 5);
        harness.Sweep(3);

        Fail(harness.Detector, endpoint, 5); // multiplier 2, but capped at max(base, max) = 30 s.
        harness.Sweep(3);

        Assert.False(harness.Detector.IsEjected(endpoint));
    }

    [Fact]
    public void Sweep_HealthyIntervals_DecreaseTheMultiplier()
    {
        using var harness = new Harness(Consecutive, 3);
        var endpoint = harness.Endpoints[0];
        Fail(harness.Detector, endpoint, 5);
        harness.Sweep(3); // back, multiplier 1.
        harness.Sweep(1); // a sweep not ejected: multiplier 0.

        Fail(harness.Detector, endpoint, 5); // multiplier 1 again: 30 s, not 60 s.
        harness.Sweep(3);

        Assert.False(harness.Detector.IsEjected(endpoint));
    }

    [Fact]
    public void RecordResult_MaxEjectionPercent_IsNeverExceeded()
    {
        using var harness = new Harness(Consecutive with { MaxEjectionPercent = 50 }, 4);

        foreach (var endpoint in harness.Endpoints)
        {
            Fail(harness.Detector, endpoint, 5);
        }

        Assert.Equal(2, harness.Endpoints.Count(harness.Detector.IsEjected));
        Assert.True(harness.Detector.IsEjected(harness.Endpoints[0]));
        Assert.True(harness.Detector.IsEjected(harness.Endpoints[1]));
    }

    [Fact]
    public void RecordResult_MaxEjectionPercentBelowOneEndpoint_StillEjectsOne()
    {
        using var harness = new Harness(Consecutive with { MaxEjectionPercent = 10 }, 4);

        foreach (var endpoint in harness.Endpoints)
        {
            Fail(harness.Detector, endpoint, 5);
        }

        Assert.Equal(1, harness.Endpoints.Count(harness.Detector.IsEjected));
    }

    [Fact]
    public void Sweep_MaxEjectionPercent_LimitsSuccessRateEjections()
    {
        // 10 endpoints, 30% cap: of the four failing ones only three may go.
        var config = SuccessRate with { MaxEjectionPercent = 30, SuccessRateEjection = new SuccessRateEjectionConfig { StdevFactor = 1000 } };
        using var harness = new Harness(config, 10);
        for (var i = 0; i < 10; i++)
        {
            Record(harness.Detector, harness.Endpoints[i], successes: i < 4 ? 10 : 100, failures: i < 4 ? 90 : 0);
        }

        harness.Sweep(1);

        Assert.Equal(3, harness.Endpoints.Count(harness.Detector.IsEjected));
    }

    [Fact]
    public void Sweep_SuccessRateOutlierAmongFive_EjectsOnlyTheOutlier()
    {
        using var harness = new Harness(SuccessRate, 5);
        var outlier = harness.Endpoints[2];

        // Rates {1, 1, 0.5, 1, 1}: mean 0.9, stdev 0.2, threshold 0.9 - 1.9 x 0.2 = 0.52.
        foreach (var endpoint in harness.Endpoints)
        {
            Record(harness.Detector, endpoint, successes: endpoint == outlier ? 50 : 100, failures: endpoint == outlier ? 50 : 0);
        }

        harness.Time.Advance(9 * Second);
        Assert.False(harness.Detector.IsEjected(outlier));

        harness.Time.Advance(Second);
        Assert.True(harness.Detector.IsEjected(outlier));
        Assert.Equal(1, harness.Endpoints.Count(harness.Detector.IsEjected));
        Assert.Equal(1, harness.Changes);
    }

    [Fact]
    public void Sweep_SuccessRateAboveStdevThreshold_EjectsNothing()
    {
        // Rates {0.55, 1, 1, 1, 1}: mean 0.91, stdev 0.18. With the factor 1.9 the threshold is 0.568 and 0.55 is an
        // outlier; with the factor 3 it is 0.37 and it is not.
        using var harness = new Harness(SuccessRate, 5);
        using var lenient = new Harness(SuccessRate with { SuccessRateEjection = new SuccessRateEjectionConfig { StdevFactor = 3000 } }, 5);
        foreach (var h in new[] { harness, lenient })
        {
            Record(h.Detector, h.Endpoints[0], successes: 55, failures: 45);
            foreach (var endpoint in h.Endpoints.Skip(1))
            {
                Record(h.Detector, endpoint, successes: 100, failures: 0);
            }

            h.Sweep(1);
        }

        Assert.True(harness.Detector.IsEjected(harness.Endpoints[0]));
        Assert.False(lenient.Detector.IsEjected(lenient.Endpoints[0]));
    }

    [Fact]
    public void Sweep_SuccessRateBelowRequestVolume_EjectsNothing()
    {
        using var harness = new Harness(SuccessRate, 5);
        Record(harness.Detector, harness.Endpoints[0], successes: 0, failures: 99);
        foreach (var endpoint in harness.Endpoints.Skip(1))
        {
            Record(harness.Detector, endpoint, successes: 99, failures: 0);
        }
        harness.Sweep(1);

        Assert.DoesNotContain(harness.Endpoints, harness.Detector.IsEjected);
    }

    [Fact]
    public void Sweep_SuccessRateWithFewerHostsThanMinimum_EjectsNothing()
    {
        // Five endpoints, but only four have the request volume: below the minimum of five.
        using var harness = new Harness(SuccessRate, 5);
        for (var i = 0; i < 4; i++)
        {
            Record(harness.Detector, harness.Endpoints[i], successes: i == 0 ? 0 : 100, failures: i == 0 ? 100 : 0);
        }

        Record(harness.Detector, harness.Endpoints[4], successes: 10, failures: 0);
        harness.Sweep(1);

        Assert.DoesNotContain(harness.Endpoints, harness.Detector.IsEjected);
    }

    [Fact]
    public void Sweep_VolumeSpreadOverIntervals_IsNotAddedUp()
    {
        using var harness = new Harness(SuccessRate, 5);

        // Each interval has half the volume the algorithm needs: the halves are never added together.
        for (var interval = 0; interval < 3; interval++)
        {
            Record(harness.Detector, harness.Endpoints[0], successes: 0, failures: 50);
            foreach (var endpoint in harness.Endpoints.Skip(1))
            {
                Record(harness.Detector, endpoint, successes: 50, failures: 0);
            }
            harness.Sweep(1);
        }

        Assert.DoesNotContain(harness.Endpoints, harness.Detector.IsEjected);
    }

    [Theory]
    [InlineData(85, true)]
    [InlineData(84, false)]
    public void Sweep_FailurePercentage_EjectsAtTheThreshold(int failures, bool ejected)
    {
        using var harness = new Harness(FailurePercentage, 5);
        Record(harness.Detector, harness.Endpoints[0], successes: 100 - failures, failures: failures);

        harness.Sweep(1);

        // Minimum hosts counts all five endpoints though only one had traffic (A50).
        Assert.Equal(ejected, harness.Detector.IsEjected(harness.Endpoints[0]));
        Assert.Equal(ejected ? 1 : 0, harness.Endpoints.Count(harness.Detector.IsEjected));
    }

    [Fact]
    public void Sweep_FailurePercentageBelowRequestVolumeOrMinimumHosts_EjectsNothing()
    {
        using var lowVolume = new Harness(FailurePercentage, 5);
        using var fewHosts = new Harness(FailurePercentage, 4);
        Record(lowVolume.Detector, lowVolume.Endpoints[0], successes: 0, failures: 49);
        Record(fewHosts.Detector, fewHosts.Endpoints[0], successes: 0, failures: 100);

        lowVolume.Sweep(1);
        fewHosts.Sweep(1);

        Assert.False(lowVolume.Detector.IsEjected(lowVolume.Endpoints[0]));
        Assert.False(fewHosts.Detector.IsEjected(fewHosts.Endpoints[0]));
    }

    [Fact]
    public void Detector_EnforcementPercentageZero_NeverEjects()
    {
        var config = new OutlierDetectionConfig
        {
            MaxEjectionPercent = 100,
            SuccessRateEjection = new SuccessRateEjectionConfig { EnforcementPercentage = 0 },
            FailurePercentageEjection = new FailurePercentageEjectionConfig { EnforcementPercentage = 0 },
            Consecutive5xx = new Consecutive5xxEjectionConfig { EnforcementPercentage = 0 },
        };
        using var harness = new Harness(config, 5, random: () => 0.0);
        Fail(harness.Detector, harness.Endpoints[0], 100);
        foreach (var endpoint in harness.Endpoints.Skip(1))
        {
            Record(harness.Detector, endpoint, successes: 100, failures: 0);
        }
        harness.Sweep(3);

        Assert.DoesNotContain(harness.Endpoints, harness.Detector.IsEjected);
        Assert.Equal(0, harness.Changes);
    }

    [Theory]
    [InlineData(0.49, true)]
    [InlineData(0.50, false)]
    public void RecordResult_EnforcementPercentageFifty_EjectsOnlyWhenTheDrawIsBelowFifty(double draw, bool ejected)
    {
        var config = Consecutive with { Consecutive5xx = new Consecutive5xxEjectionConfig { EnforcementPercentage = 50 } };
        using var harness = new Harness(config, 2, random: () => draw);

        Fail(harness.Detector, harness.Endpoints[0], 5);

        Assert.Equal(ejected, harness.Detector.IsEjected(harness.Endpoints[0]));
    }

    [Fact]
    public void RecordResult_RunNotEnforced_StartsANewRun()
    {
        var draws = new Queue<double>([0.99, 0.0]);
        var config = Consecutive with { Consecutive5xx = new Consecutive5xxEjectionConfig { EnforcementPercentage = 50 } };
        using var harness = new Harness(config, 2, random: draws.Dequeue);
        var endpoint = harness.Endpoints[0];

        Fail(harness.Detector, endpoint, 5); // detected, spared by the draw.
        Fail(harness.Detector, endpoint, 4);
        Assert.False(harness.Detector.IsEjected(endpoint));

        Fail(harness.Detector, endpoint, 1); // a second full run.
        Assert.True(harness.Detector.IsEjected(endpoint));
    }

    [Fact]
    public void Update_RemovedEndpoint_ForgetsItsState()
    {
        using var harness = new Harness(Consecutive, 3);
        var ejected = harness.Endpoints[0];
        var failing = harness.Endpoints[1];
        Fail(harness.Detector, ejected, 5);
        Fail(harness.Detector, failing, 4);

        harness.Detector.Update([harness.Endpoints[2]]);
        Assert.False(harness.Detector.IsEjected(ejected));

        harness.Detector.Update(harness.Endpoints);
        Assert.False(harness.Detector.IsEjected(ejected));
        Fail(harness.Detector, failing, 1); // the earlier four were forgotten.
        Assert.False(harness.Detector.IsEjected(failing));

        // Back as new: its next ejection is a first one again (30 s, not 60 s).
        Fail(harness.Detector, ejected, 5);
        harness.Sweep(3);
        Assert.False(harness.Detector.IsEjected(ejected));
    }

    [Fact]
    public void Update_SurvivingEndpoint_KeepsItsEjection()
    {
        using var harness = new Harness(Consecutive, 3);
        var endpoint = harness.Endpoints[0];
        Fail(harness.Detector, endpoint, 5);

        harness.Detector.Update([endpoint, harness.Endpoints[1], new EndpointState("10.0.0.99", 80, null)]);

        Assert.True(harness.Detector.IsEjected(endpoint));
        harness.Sweep(3);
        Assert.False(harness.Detector.IsEjected(endpoint));
    }

    [Fact]
    public void Update_RemovedEjectedEndpoint_FreesItsPlaceUnderTheCap()
    {
        using var harness = new Harness(Consecutive with { MaxEjectionPercent = 50 }, 4);
        Fail(harness.Detector, harness.Endpoints[0], 5);
        Fail(harness.Detector, harness.Endpoints[1], 5);
        Fail(harness.Detector, harness.Endpoints[2], 5);
        Assert.False(harness.Detector.IsEjected(harness.Endpoints[2]));

        harness.Detector.Update(harness.Endpoints.Skip(1));
        Fail(harness.Detector, harness.Endpoints[2], 5);

        // Two of three would be 67 %: still over the cap.
        Assert.False(harness.Detector.IsEjected(harness.Endpoints[2]));

        harness.Detector.Update([.. harness.Endpoints.Skip(1), new EndpointState("10.0.0.99", 80, null)]);
        Fail(harness.Detector, harness.Endpoints[2], 5);
        Assert.True(harness.Detector.IsEjected(harness.Endpoints[2]));
    }

    [Fact]
    public void EjectionsChanged_FiresOnEjectAndOnReturn()
    {
        using var harness = new Harness(SuccessRate with { Consecutive5xx = new Consecutive5xxEjectionConfig() }, 5);
        var observed = new List<bool>();
        harness.Detector.EjectionsChanged += () => observed.Add(harness.Detector.IsEjected(harness.Endpoints[0]));

        Fail(harness.Detector, harness.Endpoints[0], 5);
        harness.Sweep(2); // sweeps with nothing to change raise nothing.
        Assert.Collection(observed, Assert.True);

        harness.Sweep(1);
        Assert.Collection(observed, Assert.True, Assert.False);
    }

    [Fact]
    public void EjectionsChanged_HandlerThrows_DetectorKeepsWorking()
    {
        using var harness = new Harness(Consecutive, 3);
        harness.Detector.EjectionsChanged += () => throw new InvalidOperationException("handler failure");

        Fail(harness.Detector, harness.Endpoints[0], 5);
        harness.Sweep(3);
        Fail(harness.Detector, harness.Endpoints[1], 5);

        Assert.False(harness.Detector.IsEjected(harness.Endpoints[0]));
        Assert.True(harness.Detector.IsEjected(harness.Endpoints[1]));
    }

    [Fact]
    public void UpdateConfig_AllAlgorithmsOff_ReturnsEjectedEndpoints()
    {
        using var harness = new Harness(Consecutive, 3);
        Fail(harness.Detector, harness.Endpoints[0], 5);

        harness.Detector.UpdateConfig(new OutlierDetectionConfig());

        Assert.False(harness.Detector.IsEjected(harness.Endpoints[0]));
        Assert.Equal(2, harness.Changes);
        Fail(harness.Detector, harness.Endpoints[1], 50);
        Assert.False(harness.Detector.IsEjected(harness.Endpoints[1]));
    }

    [Fact]
    public void UpdateConfig_NewInterval_KeepsTheTimerPhase()
    {
        using var harness = new Harness(FailurePercentage, 5);
        harness.Time.Advance(4 * Second);
        Record(harness.Detector, harness.Endpoints[0], successes: 0, failures: 100);

        // The timer last started at 0 s: the next sweep comes at 0 + 20 s, not at 10 s nor at 4 + 20 s.
        harness.Detector.UpdateConfig(FailurePercentage with { Interval = TimeSpan.FromSeconds(20) });
        harness.Time.Advance(15 * Second);
        Assert.False(harness.Detector.IsEjected(harness.Endpoints[0]));

        harness.Time.Advance(Second);
        Assert.True(harness.Detector.IsEjected(harness.Endpoints[0]));
    }

    [Fact]
    public void UpdateConfig_NewBaseEjectionTime_KeepsTheEjectionAndAppliesTheNewTime()
    {
        using var harness = new Harness(Consecutive, 3);
        Fail(harness.Detector, harness.Endpoints[0], 5);

        harness.Detector.UpdateConfig(Consecutive with { BaseEjectionTime = TimeSpan.FromSeconds(20) });

        Assert.True(harness.Detector.IsEjected(harness.Endpoints[0]));
        harness.Sweep(2);
        Assert.False(harness.Detector.IsEjected(harness.Endpoints[0]));
        Assert.Equal(2, harness.Changes);
    }

    [Fact]
    public void Dispose_StopsSweeping()
    {
        using var harness = new Harness(Consecutive, 3);
        Fail(harness.Detector, harness.Endpoints[0], 5);

        harness.Dispose();
        harness.Sweep(6);

        Assert.Equal(1, harness.Changes);
    }

    [Fact]
    public async Task RecordResult_FromManyThreads_LosesNoCount()
    {
        // 8500 failures of 10000 is exactly the 85 % threshold; 8400 is below it. A lost count on either would
        // flip the outcome for the first (a lost failure) or could for both.
        using var harness = new Harness(FailurePercentage, 5);
        var tasks = new Task[4];
        for (var t = 0; t < tasks.Length; t++)
        {
            tasks[t] = Task.Run(() =>
            {
                for (var i = 0; i < 2500; i++)
                {
                    harness.Detector.RecordResult(harness.Endpoints[0], success: i % 100 >= 85);
                    harness.Detector.RecordResult(harness.Endpoints[1], success: i % 100 >= 84);
                }
            });
        }

        await Task.WhenAll(tasks);
        harness.Sweep(1);

        Assert.True(harness.Detector.IsEjected(harness.Endpoints[0]));
        Assert.False(harness.Detector.IsEjected(harness.Endpoints[1]));
    }

    private static void Fail(OutlierDetector<EndpointState> detector, EndpointState endpoint, int count)
    {
        for (var i = 0; i < count; i++)
        {
            detector.RecordResult(endpoint, success: false);
        }
    }

    private static void Record(OutlierDetector<EndpointState> detector, EndpointState endpoint, int successes, int failures)
    {
        for (var i = 0; i < successes; i++)
        {
            detector.RecordResult(endpoint, success: true);
        }

        Fail(detector, endpoint, failures);
    }

    private sealed class Harness : IDisposable
    {
        private int _changes;

        public Harness(OutlierDetectionConfig config, int endpoints, Func<double>? random = null)
        {
            Endpoints = [.. Enumerable.Range(1, endpoints).Select(i => new EndpointState($"10.0.0.{i}", 8080, null))];
            Detector = new OutlierDetector<EndpointState>(config, Time, random: random);
            Detector.Update(Endpoints);
            Detector.EjectionsChanged += () => Interlocked.Increment(ref _changes);
        }

        public FakeTimeProvider Time { get; } = new();

        public EndpointState[] Endpoints { get; }

        public OutlierDetector<EndpointState> Detector { get; }

        public int Changes => Volatile.Read(ref _changes);

        /// <summary>Moves time on by <paramref name="count"/> intervals of 10 s, one sweep each.</summary>
        public void Sweep(int count)
        {
            for (var i = 0; i < count; i++)
            {
                Time.Advance(TimeSpan.FromSeconds(10));
            }
        }

        public void Dispose() => Detector.Dispose();
    }
}
