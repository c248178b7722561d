using System.Diagnostics.Tracing;
using System.Globalization;

namespace Mesh.Benchmarks;

/// <summary>
/// Which types a path allocates per call, from the runtime's own sampling: an <see cref="EventListener"/> on the GC
/// keyword at Verbose level receives GCAllocationTick events (one per ~100 KB allocated, naming the type that crossed the
/// line), so over many calls each type's share of ticks is its share of bytes. Printed per path as estimated bytes per
/// call by type, for the types that differ most from the plain path of the same kind (gRPC or HTTP).
/// </summary>
internal static class AllocationProfile
{
    private const long TickBytes = 100 * 1024;

    public static async Task<int> RunAsync(string[] args)
    {
        var calls = args.Length > 0 && int.TryParse(args[0], CultureInfo.InvariantCulture, out var n) ? n : 50_000;
        var only = args.Length > 1 ? args[1] : null; // a substring of path names, to profile a few
        var paths = new (string Name, Func<DataPathEnvironment, Task> Call, Listen Listen)[]
        {
            ("unary plain", static e => e.UnaryAsync(e.Plain), Listen.None),
            ("unary xds policy-free, metrics off", static e => e.UnaryAsync(e.MeshChannel), Listen.None),
            ("unary xds policy-free, metrics on", static e => e.UnaryAsync(e.MeshChannel), Listen.Metrics),
            ("unary xds policy-free, metrics on, tracing unsampled", static e => e.UnaryAsync(e.MeshChannel), Listen.MetricsAndTracing),
            ("unary xds + invoker", static e => e.UnaryAsync(e.Mesh), Listen.None),
            ("unary 100 routes + policies", static e => e.UnaryAsync(e.MeshPolicies), Listen.None),
            ("unary 100 routes only", static e => e.UnaryAsync(e.MeshRoutes), Listen.None),
            ("unary 1 route + policies, metrics off", static e => e.UnaryAsync(e.MeshRetry), Listen.None),
            ("unary 1 route + policies, metrics on, tracing unsampled", static e => e.UnaryAsync(e.MeshRetry), Listen.MetricsAndTracing),
            ("http plain", static e => DataPathEnvironment.GetAsync(e.PlainHttp), Listen.None),
            ("http mesh, metrics off", static e => DataPathEnvironment.GetAsync(e.MeshHttp), Listen.None),
            ("http mesh, metrics on, tracing unsampled", static e => DataPathEnvironment.GetAsync(e.MeshHttp), Listen.MetricsAndTracing),
        };
        await using var environment = await DataPathEnvironment.StartAsync().ConfigureAwait(false);
        Dictionary<string, long>? baseline = null;
        var totals = new List<(string Name, double PerCall, double Plain)>();
        var plainPerCall = 0.0;
        foreach (var (name, call, listen) in paths)
        {
            if (only is not null && !name.EndsWith("plain", StringComparison.Ordinal) && !name.Contains(only, StringComparison.Ordinal))
            {
                continue;
            }

            using var listeners = listen == Listen.None ? null : TelemetryListeners.Start(tracing: listen == Listen.MetricsAndTracing);
            for (var i = 0; i < 2000; i++)
            {
                await call(environment).ConfigureAwait(false);
            }

            using var listener = new AllocationListener();
            var before = GC.GetAllocatedBytesForCurrentThread();
            var total = GC.GetTotalAllocatedBytes(precise: true);
            for (var i = 0; i < calls; i++)
            {
                await call(environment).ConfigureAwait(false);
            }

            var perCall = (GC.GetTotalAllocatedBytes(precise: true) - total) / (double)calls;
            var byType = listener.Snapshot();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"== {name}: {perCall:F0} B/call (whole process), by type (estimated B/call):"));
            if (name.EndsWith("plain", StringComparison.Ordinal))
            {
                baseline = byType; // each category against its own plain path
                plainPerCall = perCall;
            }

            totals.Add((name, perCall, plainPerCall));

            baseline ??= byType;
            var rows = byType.Keys.Union(baseline.Keys)
                .Select(t => (Type: t, Bytes: byType.GetValueOrDefault(t) * TickBytes / (double)calls, Base: baseline.GetValueOrDefault(t) * TickBytes / (double)calls))
                .OrderByDescending(r => Math.Abs(r.Bytes - (ReferenceEquals(byType, baseline) ? 0 : r.Base)))
                .Take(14);
            foreach (var row in rows)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"   {row.Bytes,7:F0}  (plain {row.Base,6:F0})  {row.Type}"));
            }
        }

        Console.WriteLine();
        Console.WriteLine("| path | B/call (whole process) | added vs plain | added vs the same path with metrics off |");
        Console.WriteLine("|---|---:|---:|---:|");
        foreach (var (name, perCall, plain) in totals)
        {
            var on = name.IndexOf(", metrics on", StringComparison.Ordinal);
            var off = on > 0 ? totals.Find(t => t.Name == name[..on] + ", metrics off") : default;
            var vsOff = off.Name is null ? "" : string.Create(CultureInfo.InvariantCulture, $"{perCall - off.PerCall:+0;-0}");
            var added = name.EndsWith("plain", StringComparison.Ordinal) ? "—" : string.Create(CultureInfo.InvariantCulture, $"{perCall - plain:+0;-0}");
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {name} | {perCall:F0} | {added} | {vsOff} |"));
        }

        return 0;
    }

    private enum Listen
    {
        None,
        Metrics,
        MetricsAndTracing,
    }

    private sealed class AllocationListener : EventListener
    {
        private readonly Dictionary<string, long> _ticks = new(StringComparer.Ordinal);

        public Dictionary<string, long> Snapshot()
        {
            lock (_ticks)
            {
                return new Dictionary<string, long>(_ticks, StringComparer.Ordinal);
            }
        }

        protected override void OnEventSourceCreated(EventSource eventSource)
        {
            if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
            {
                EnableEvents(eventSource, EventLevel.Verbose, (EventKeywords)0x1);
            }
        }

        protected override void OnEventWritten(EventWrittenEventArgs eventData)
        {
            if (eventData.EventName?.StartsWith("GCAllocationTick", StringComparison.Ordinal) != true || eventData.Payload is null)
            {
                return;
            }

            var index = eventData.PayloadNames!.IndexOf("TypeName");
            var type = index >= 0 ? eventData.Payload[index] as string ?? "?" : "?";
            lock (_ticks)
            {
                _ticks[type] = _ticks.GetValueOrDefault(type) + 1;
            }
        }
    }
}
