using Mesh.ControlPlane.Configuration;
using Mesh.ControlPlane.Model;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.ControlPlane.Tests.Model;

public class MeshSnapshotProviderTests
{
    /// <summary>A source whose content the test sets, firing its change token each time.</summary>
    private sealed class FakeSource : IConfigSource, IDisposable
    {
        private CancellationTokenSource _changed = new();

        public string Name => "fake";

        public ConfigSet Current { get; private set; } = ConfigSet.Empty;

        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public IChangeToken GetChangeToken() => new CancellationChangeToken(_changed.Token);

        public void Set(params (string File, string Yaml)[] files)
        {
            var resources = new List<ConfigResource>();
            var errors = new List<ConfigError>();
            foreach (var (file, yaml) in files)
            {
                var set = YamlResourceReader.Read(yaml, file, "default");
                resources.AddRange(set.Resources);
                errors.AddRange(set.Errors);
            }

            Current = new ConfigSet(resources, errors);
            var fired = _changed;
            _changed = new CancellationTokenSource();
            fired.Cancel();
        }

        public void Dispose() => _changed.Dispose();
    }

    private static (MeshSnapshotProvider Provider, FakeSource Source, FakeTimeProvider Time) Create()
    {
        var source = new FakeSource();
        var time = new FakeTimeProvider();
        var provider = new MeshSnapshotProvider([source], Options.Create(new ControlPlaneOptions()), time, NullLogger<MeshSnapshotProvider>.Instance);
        return (provider, source, time);
    }

    [Fact]
    public async Task Rebuild_InvalidUpdate_KeepsServingLastGoodSnapshot()
    {
        var (provider, source, _) = Create();
        source.Set(("se.yaml", TestYaml.ReviewsServiceEntry), ("dr.yaml", TestYaml.ReviewsDestinationRule), ("vs.yaml", TestYaml.ReviewsSplit(80, 20)));
        Assert.True(await provider.StartAsync(CancellationToken.None));
        var good = provider.Current;

        source.Set(("se.yaml", TestYaml.ReviewsServiceEntry), ("dr.yaml", TestYaml.ReviewsDestinationRule), ("vs.yaml", TestYaml.ReviewsSplit(0, 0)));
        Assert.False(provider.Rebuild());

        Assert.Same(good, provider.Current);
        var error = Assert.Single(provider.LastErrors);
        Assert.Equal("vs.yaml:1", error.Origin);
        Assert.Equal("VirtualService default/reviews", error.Resource);
    }

    public static TheoryData<string, string, string, string?> BadInputs() => new()
    {
        // file, its YAML, the origin prefix the error must name, the resource it must name
        { "vs.yaml", "kind: VirtualService\nspec: [unclosed", "vs.yaml:", null },
        { "odd.yaml", "apiVersion: v1\nkind: Gadget\nmetadata: {name: g1}\n", "odd.yaml:1", "Gadget default/g1" },
        { "vs.yaml", TestYaml.ReviewsSplit(80, 20).Replace("subset: v2", "subset: v9", StringComparison.Ordinal), "vs.yaml:1", "VirtualService default/reviews" },
        { "vs.yaml", TestYaml.ReviewsSplit(80, 20).Replace("hosts: [reviews]", "hosts: [nosuch]", StringComparison.Ordinal), "vs.yaml:1", "VirtualService default/reviews" },
        { "vs.yaml", TestYaml.ReviewsSplit(0, 0), "vs.yaml:1", "VirtualService default/reviews" },
        { "copy.yaml", TestYaml.ReviewsDestinationRule, "copy.yaml:1", "DestinationRule default/reviews" },
    };

    [Theory]
    [MemberData(nameof(BadInputs))]
    public async Task Rebuild_BadInput_ErrorNamesFileAndResource_AndSnapshotIsUntouched(string file, string yaml, string origin, string? resource)
    {
        var (provider, source, _) = Create();
        var good = new List<(string, string)> { ("se.yaml", TestYaml.ReviewsServiceEntry), ("dr.yaml", TestYaml.ReviewsDestinationRule), ("vs.yaml", TestYaml.ReviewsSplit(80, 20)) };
        source.Set([.. good]);
        Assert.True(await provider.StartAsync(CancellationToken.None));
        var served = provider.Current;

        good.RemoveAll(f => f.Item1 == file);
        source.Set([.. good, (file, yaml)]);

        Assert.False(provider.Rebuild());
        Assert.Same(served, provider.Current);
        Assert.Equal(1, provider.Current.Version);
        var error = Assert.Single(provider.LastErrors);
        Assert.StartsWith(origin, error.Origin, StringComparison.Ordinal);
        Assert.Equal(resource, error.Resource);
    }

    /// <summary>
    /// Serves good reviews config, then replaces <paramref name="file"/> with <paramref name="yaml"/>: the rebuild
    /// must fail with one error naming the file, the resource and the field, and the last good snapshot must stay.
    /// </summary>
    private static async Task<ConfigError> AssertRejectedAsync(string file, string yaml, string resource, string field)
    {
        var (provider, source, _) = Create();
        var files = new List<(string, string)> { ("se.yaml", TestYaml.ReviewsServiceEntry), ("dr.yaml", TestYaml.ReviewsDestinationRule), ("vs.yaml", TestYaml.ReviewsSplit(80, 20)) };
        source.Set([.. files]);
        Assert.True(await provider.StartAsync(CancellationToken.None));
        var served = provider.Current;

        files.RemoveAll(f => f.Item1 == file);
        source.Set([.. files, (file, yaml)]);

        Assert.False(provider.Rebuild());
        Assert.Same(served, provider.Current);
        var error = Assert.Single(provider.LastErrors);
        Assert.Equal(file + ":1", error.Origin);
        Assert.Equal(resource, error.Resource);
        Assert.Equal(field, error.Field);
        return error;
    }

    [Fact]
    public async Task Rebuild_NegativeRetryAttempts_IsRejectedNamingTheField()
    {
        var error = await AssertRejectedAsync("vs.yaml", TestYaml.ReviewsRule("retries: {attempts: -1}"), "VirtualService default/reviews", "spec.http[0].retries.attempts");

        Assert.Contains("must not be negative", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rebuild_FaultPercentageOver100_IsRejectedNamingTheField()
    {
        var error = await AssertRejectedAsync(
            "vs.yaml",
            TestYaml.ReviewsRule("fault: {abort: {percentage: {value: 150}, grpcStatus: UNAVAILABLE}}"),
            "VirtualService default/reviews",
            "spec.http[0].fault.abort.percentage.value");

        Assert.Contains("between 0 and 100", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rebuild_TimeoutNotADuration_IsRejectedNamingTheField()
    {
        var error = await AssertRejectedAsync("vs.yaml", TestYaml.ReviewsRule("timeout: fast"), "VirtualService default/reviews", "spec.http[0].timeout");

        Assert.Contains("'fast' is not a duration", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rebuild_PerTryTimeoutWithoutUnit_IsRejectedNamingTheField()
    {
        var error = await AssertRejectedAsync(
            "vs.yaml",
            TestYaml.ReviewsRule("retries: {attempts: 3, perTryTimeout: \"10\"}"),
            "VirtualService default/reviews",
            "spec.http[0].retries.perTryTimeout");

        Assert.Contains("'10' is not a duration", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rebuild_NegativeBaseEjectionTime_IsRejectedNamingTheField()
    {
        var error = await AssertRejectedAsync(
            "dr.yaml",
            TestYaml.ReviewsDestinationRuleWith("{outlierDetection: {baseEjectionTime: -1s}}"),
            "DestinationRule default/reviews",
            "spec.trafficPolicy.outlierDetection.baseEjectionTime");

        Assert.Contains("'-1s' is not a duration", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rebuild_UnknownRetryOnItem_IsRejectedNamingTheFieldAndItem()
    {
        var error = await AssertRejectedAsync(
            "vs.yaml",
            TestYaml.ReviewsRule("retries: {attempts: 3, retryOn: \"unavailable,sometimes\"}"),
            "VirtualService default/reviews",
            "spec.http[0].retries.retryOn");

        Assert.StartsWith("'sometimes' is not a retry condition", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rebuild_AbortHttpStatus99_IsRejectedNamingTheField()
    {
        var error = await AssertRejectedAsync(
            "vs.yaml",
            TestYaml.ReviewsRule("fault: {abort: {percentage: {value: 10}, httpStatus: 99}}"),
            "VirtualService default/reviews",
            "spec.http[0].fault.abort.httpStatus");

        Assert.Contains("between 200 and 599", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DirectorySource_DirectoryDeleted_IsAnErrorAndSnapshotStays()
    {
        var directory = Path.Combine(Path.GetTempPath(), "mesh-vanish-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        await File.WriteAllTextAsync(Path.Combine(directory, "se.yaml"), TestYaml.ReviewsServiceEntry);
        using var source = new YamlDirectorySource(directory, "default", NullLogger<YamlDirectorySource>.Instance);
        using var provider = new MeshSnapshotProvider([source], Options.Create(new ControlPlaneOptions()), TimeProvider.System, NullLogger<MeshSnapshotProvider>.Instance);
        Assert.True(await provider.StartAsync(CancellationToken.None));
        var served = provider.Current;

        Directory.Delete(directory, recursive: true);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (provider.LastErrors.Count == 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20); // the watcher sees the deletion and a debounced rebuild runs
        }

        Assert.Same(served, provider.Current);
        Assert.Contains("cannot be read", Assert.Single(provider.LastErrors).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rebuild_MalformedFile_KeepsServingLastGoodSnapshot()
    {
        var (provider, source, _) = Create();
        source.Set(("se.yaml", TestYaml.ReviewsServiceEntry));
        Assert.True(await provider.StartAsync(CancellationToken.None));
        var good = provider.Current;

        source.Set(("se.yaml", "kind: [unclosed"));
        Assert.False(provider.Rebuild());

        Assert.Same(good, provider.Current);
        Assert.StartsWith("se.yaml:", Assert.Single(provider.LastErrors).Origin, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SourceChanges_BurstWithinQuietPeriod_RebuildsOnce()
    {
        var (provider, source, time) = Create();
        source.Set(("se.yaml", TestYaml.ReviewsServiceEntry));
        await provider.StartAsync(CancellationToken.None);
        var changes = 0;
        provider.SnapshotChanged += _ => changes++;

        for (var i = 0; i < 10; i++)
        {
            source.Set(("se.yaml", TestYaml.ReviewsServiceEntry), ("vs.yaml", TestYaml.ReviewsSplit(100 - i, i).Replace("subset: v1", "subset: null", StringComparison.Ordinal).Replace("subset: v2", "subset: null", StringComparison.Ordinal)));
            time.Advance(TimeSpan.FromMilliseconds(20));
        }

        Assert.Equal(0, changes);
        time.Advance(TimeSpan.FromMilliseconds(100));
        Assert.Equal(1, changes);
        Assert.Equal(9, provider.Current.Routes.Values.Single().Rules[0].Destinations[1].Weight);
    }

    [Fact]
    public async Task SourceChanges_NeverQuiet_AppliedWithinMaxDelay()
    {
        var (provider, source, time) = Create();
        source.Set(("se.yaml", TestYaml.ReviewsServiceEntry));
        await provider.StartAsync(CancellationToken.None);
        var changes = 0;
        provider.SnapshotChanged += _ => changes++;

        for (var i = 0; i < 30 && changes == 0; i++)
        {
            source.Set(("se.yaml", TestYaml.ReviewsServiceEntry.Replace("20002", (30000 + i).ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)));
            time.Advance(TimeSpan.FromMilliseconds(50));
        }

        // Changes every 50 ms never leave 100 ms of quiet; the 1 s cap applies them anyway.
        Assert.Equal(1, changes);
    }

    /// <summary>A fake clock on which reading the source takes <see cref="ReadCost"/>, as a large cluster's rebuild does.</summary>
    private sealed class SlowReadTime : FakeTimeProvider
    {
        private long _extra;

        public TimeSpan ReadCost { get; set; }

        public void Read() => Interlocked.Add(ref _extra, (long)(ReadCost.TotalSeconds * TimestampFrequency));

        public override long GetTimestamp() => base.GetTimestamp() + Interlocked.Read(ref _extra);
    }

    private sealed class TimedSource(IConfigSource inner, SlowReadTime time) : IConfigSource
    {
        public string Name => inner.Name;

        public ConfigSet Current
        {
            get
            {
                time.Read();
                return inner.Current;
            }
        }

        public Task StartAsync(CancellationToken cancellationToken) => inner.StartAsync(cancellationToken);

        public IChangeToken GetChangeToken() => inner.GetChangeToken();
    }

    [Fact]
    public async Task SourceChanges_SteadyStream_WaitTwiceTheLastRebuildNotTheWholeMaximum()
    {
        using var source = new FakeSource();
        var time = new SlowReadTime { ReadCost = TimeSpan.FromMilliseconds(400) };
        var options = new ControlPlaneOptions { DebounceQuiet = TimeSpan.FromMilliseconds(100), DebounceMax = TimeSpan.FromSeconds(2) };
        using var provider = new MeshSnapshotProvider([new TimedSource(source, time)], Options.Create(options), time, NullLogger<MeshSnapshotProvider>.Instance);
        source.Set(("se.yaml", TestYaml.ReviewsServiceEntry));
        await provider.StartAsync(CancellationToken.None); // the first rebuild took 400 ms
        var changes = 0;
        provider.SnapshotChanged += _ => changes++;

        // A change every 50 ms, never 100 ms of quiet. The wait is 2 x 400 ms: more than the floor (2 s / 4 = 500 ms),
        // less than the maximum (2 s).
        var elapsed = TimeSpan.Zero;
        for (var i = 0; elapsed < TimeSpan.FromMilliseconds(1650); i++)
        {
            source.Set(("se.yaml", TestYaml.ReviewsServiceEntry.Replace("20002", (30000 + i).ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)));
            time.Advance(TimeSpan.FromMilliseconds(50));
            elapsed += TimeSpan.FromMilliseconds(50);
            if (elapsed == TimeSpan.FromMilliseconds(750))
            {
                Assert.Equal(0, changes);
            }

            if (elapsed == TimeSpan.FromMilliseconds(850))
            {
                Assert.Equal(1, changes);
            }
        }

        // And again after the next 800 ms: a steady stream is applied about every two rebuilds' time.
        Assert.Equal(2, changes);
    }
}
