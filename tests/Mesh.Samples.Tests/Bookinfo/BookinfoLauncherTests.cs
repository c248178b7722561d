using System.Diagnostics;

namespace Mesh.Samples.Tests.Bookinfo;

/// <summary>The launcher leaves nothing behind, however it ends.</summary>
public sealed class BookinfoLauncherTests
{
    [Fact]
    public async Task Launcher_KilledOutright_ServicesStopWithIt()
    {
        var sample = await BookinfoSample.StartAsync();
        IReadOnlyList<int> services = [];
        try
        {
            services = sample.ServiceProcessIds();
            Assert.Equal(7, services.Count); // productpage, details, ratings, reviews v1, v2 and v3, and the ingress gateway

            // SIGKILL: the launcher gets no chance to stop anything; the services notice their stdin close.
            await sample.KillLauncherOnlyAsync();

            var stopwatch = Stopwatch.StartNew();
            var alive = services;
            while (alive.Count > 0 && stopwatch.Elapsed < TimeSpan.FromSeconds(30))
            {
                await Task.Delay(200);
                alive = [.. services.Where(IsRunning)];
            }

            Assert.True(alive.Count == 0, $"still running 30 s after the launcher was killed: {string.Join(", ", alive)}\n{sample.Output}");
        }
        finally
        {
            foreach (var pid in services.Where(IsRunning))
            {
                try
                {
                    using var process = Process.GetProcessById(pid);
                    process.Kill(entireProcessTree: true);
                }
                catch (ArgumentException)
                {
                }
            }

            await sample.DisposeAsync();
        }
    }

    // A process that has ended and not yet been reaped is a zombie: it runs nothing.
    private static bool IsRunning(int pid)
    {
        var stat = $"/proc/{pid}/stat";
        try
        {
            var text = File.ReadAllText(stat);
            var state = text[(text.LastIndexOf(')') + 2)..][0];
            return state != 'Z' && state != 'X';
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }
}
