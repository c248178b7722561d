namespace Mesh.Client.LoadReporting;

/// <summary>The counts one report took from a <see cref="LocalityLoad"/>, kept until the report is sent.</summary>
/// <param name="Issued">Calls issued.</param>
/// <param name="Succeeded">Calls that ended successfully.</param>
/// <param name="Errored">Calls that ended with an error.</param>
/// <param name="BucketCounts">Finished calls per latency bucket.</param>
/// <param name="BucketTicks">The summed latency per bucket, in ticks.</param>
internal readonly record struct LocalityLoadDelta(long Issued, long Succeeded, long Errored, long[] BucketCounts, long[] BucketTicks);
