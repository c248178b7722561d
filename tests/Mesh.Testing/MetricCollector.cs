using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Mesh.Testing;

/// <summary>One measurement as a test sees it: instrument, value and tags (label → value text).</summary>
/// <param name="Meter">The meter's name.</param>
/// <param name="Instrument">The instrument's name.</param>
/// <param name="Value">The value.</param>
/// <param name="Tags">The tags, values as text.</param>
public sealed record CollectedMeasurement(string Meter, string Instrument, double Value, IReadOnlyDictionary<string, string> Tags)
{
    /// <summary>The value of tag <paramref name="name"/>, or null.</summary>
    public string? Tag(string name) => Tags.TryGetValue(name, out var value) ? value : null;
}

/// <summary>
/// Collects measurements of the named meters in memory through a <see cref="MeterListener"/>. Tests in one process share
/// meters, so filter what you read by labels unique to your test.
/// </summary>
public sealed class MetricCollector : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentQueue<CollectedMeasurement> _measurements = new();

    /// <summary>Starts collecting every instrument of the meters named <paramref name="meters"/>.</summary>
    public MetricCollector(params string[] meters)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (Array.IndexOf(meters, instrument.Meter.Name) >= 0)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((i, v, t, _) => Add(i, v, t));
        _listener.SetMeasurementEventCallback<double>((i, v, t, _) => Add(i, v, t));
        _listener.SetMeasurementEventCallback<int>((i, v, t, _) => Add(i, v, t));
        _listener.Start();
    }

    /// <summary>Everything collected so far.</summary>
    public IReadOnlyList<CollectedMeasurement> Measurements => [.. _measurements];

    /// <summary>Measurements of <paramref name="instrument"/> matching <paramref name="filter"/>.</summary>
    public IReadOnlyList<CollectedMeasurement> Of(string instrument, Func<CollectedMeasurement, bool>? filter = null) =>
        [.. _measurements.Where(m => m.Instrument == instrument && (filter is null || filter(m)))];

    /// <summary>Waits (bounded) until <paramref name="condition"/> holds over the measurements; returns whether it did.</summary>
    public async Task<bool> WaitForAsync(Func<MetricCollector, bool> condition, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (DateTime.UtcNow < deadline)
        {
            if (condition(this))
            {
                return true;
            }

            await Task.Delay(20).ConfigureAwait(false);
        }

        return condition(this);
    }

    /// <summary>Stops collecting.</summary>
    public void Dispose() => _listener.Dispose();

    private void Add(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var map = new Dictionary<string, string>(tags.Length, StringComparer.Ordinal);
        foreach (var tag in tags)
        {
            map[tag.Key] = tag.Value switch
            {
                null => string.Empty,
                IFormattable f => f.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
                var o => o.ToString() ?? string.Empty,
            };
        }

        _measurements.Enqueue(new CollectedMeasurement(instrument.Meter.Name, instrument.Name, value, map));
    }
}
