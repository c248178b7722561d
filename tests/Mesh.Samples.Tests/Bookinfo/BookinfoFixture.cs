namespace Mesh.Samples.Tests.Bookinfo;

/// <summary>One running Bookinfo sample shared by the tests of a class (each test applies the scenario it needs).</summary>
public sealed class BookinfoFixture : IAsyncLifetime
{
    private BookinfoSample? _sample;

    public BookinfoSample Sample => _sample ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync() => _sample = await BookinfoSample.StartAsync(["--no-traffic"]); // each test makes its own calls

    public async Task DisposeAsync()
    {
        if (_sample is not null)
        {
            await _sample.DisposeAsync();
        }
    }
}
