using Mesh.Client.Xds;

namespace Mesh.Client.Tests.Xds;

public class XdsBackoffTests
{
    [Fact]
    public void Next_WithoutJitter_GrowsByMultiplierUpToMax()
    {
        var backoff = new XdsBackoff(XdsBackoffPolicy.Default, () => 0.5);

        var delays = Enumerable.Range(0, 14).Select(_ => backoff.Next().TotalSeconds).ToList();

        Assert.Equal(1.0, delays[0], 6);
        Assert.Equal(1.6, delays[1], 6);
        Assert.Equal(2.56, delays[2], 6);
        Assert.Equal(4.096, delays[3], 6);
        for (var i = 1; i < delays.Count; i++)
        {
            Assert.True(delays[i] >= delays[i - 1], $"delay {i} shrank");
        }

        // 1.6^11 > 120: from then on the cap holds.
        Assert.Equal(120.0, delays[12], 6);
        Assert.Equal(120.0, delays[13], 6);
    }

    [Fact]
    public void Next_WithRandomJitter_StaysWithinTwentyPercentOfTheUnjitteredDelay()
    {
        var random = new Random(1234);
        var jittered = new XdsBackoff(XdsBackoffPolicy.Default, random.NextDouble);
        var plain = new XdsBackoff(XdsBackoffPolicy.Default, () => 0.5);
        var below = 0;
        var above = 0;

        for (var i = 0; i < 200; i++)
        {
            var expected = plain.Next().TotalSeconds;
            var actual = jittered.Next().TotalSeconds;
            Assert.InRange(actual, expected * 0.8, expected * 1.2);
            below += actual < expected ? 1 : 0;
            above += actual > expected ? 1 : 0;
        }

        // The jitter goes both ways.
        Assert.True(below > 40 && above > 40, $"below {below}, above {above}");
    }

    [Theory]
    [InlineData(0.0, 0.8)]
    [InlineData(0.999999, 1.2)]
    public void Next_AtExtremesOfRandom_HitsJitterBounds(double random, double factor)
    {
        var backoff = new XdsBackoff(XdsBackoffPolicy.Default, () => random);

        Assert.Equal(factor, backoff.Next().TotalSeconds, 3);
        Assert.Equal(1.6 * factor, backoff.Next().TotalSeconds, 3);
    }

    [Fact]
    public void Reset_AfterGrowth_StartsOverAtInitialDelay()
    {
        var backoff = new XdsBackoff(XdsBackoffPolicy.Default, () => 0.5);
        for (var i = 0; i < 5; i++)
        {
            backoff.Next();
        }

        backoff.Reset();

        Assert.Equal(0, backoff.Attempts);
        Assert.Equal(TimeSpan.FromSeconds(1), backoff.Next());
        Assert.Equal(TimeSpan.FromSeconds(1.6), backoff.Next());
    }
}
