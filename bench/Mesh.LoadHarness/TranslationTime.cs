using System.Diagnostics;
using System.Globalization;
using Mesh.ControlPlane.Configuration;
using Mesh.ControlPlane.Model;
using Mesh.ControlPlane.Translation;
using Microsoft.Extensions.Logging.Abstractions;

namespace Mesh.LoadHarness;

/// <summary>
/// Translation time for a model of <c>--services</c> services x <c>--endpoints</c> endpoints (each with a DestinationRule of
/// two subsets and a VirtualService): reading the YAML directory, building the model (validation included) and translating
/// it to xDS (packing and hashing every resource), each timed separately; the median of <c>--runs</c> runs after one warm-up.
/// </summary>
internal static class TranslationTime
{
    public static Task<int> RunAsync(string[] args)
    {
        var services = Program.Option(args, "--services", 1000);
        var endpoints = Program.Option(args, "--endpoints", 10);
        var runs = Program.Option(args, "--runs", 5);
        var directory = Path.Combine(Path.GetTempPath(), "mesh-translate-" + Guid.NewGuid().ToString("N"));
        ScaleYaml.WriteAll(directory, services, endpoints, static (s, e) => 10000 + ((s * 31) + e) % 50000);
        try
        {
            var read = new List<double>();
            var build = new List<double>();
            var translate = new List<double>();
            var served = new List<double>();
            var resources = 0;
            for (var run = 0; run <= runs; run++)
            {
                var watch = Stopwatch.StartNew();
                using var source = new YamlDirectorySource(directory, "default", NullLogger<YamlDirectorySource>.Instance);
                var set = source.Current;
                var t1 = watch.Elapsed.TotalMilliseconds;
                var result = MeshModelBuilder.Build(set.Resources, version: run + 1);
                var t2 = watch.Elapsed.TotalMilliseconds;
                if (result.Snapshot is null)
                {
                    throw new InvalidOperationException("the generated model is invalid: " + string.Join("; ", result.Errors));
                }

                var xds = ProxylessTranslator.Translate(result.Snapshot);
                var t3 = watch.Elapsed.TotalMilliseconds;
                _ = MeshTranslator.Translate(result.Snapshot);
                var t4 = watch.Elapsed.TotalMilliseconds;
                resources = xds.ByType.Values.Sum(r => r.Count);
                if (run > 0)
                {
                    read.Add(t1);
                    build.Add(t2 - t1);
                    translate.Add(t3 - t2);
                    served.Add(t4 - t3);
                }
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"translation: {services} services x {endpoints} endpoints -> {resources} xDS resources; median of {runs}: read YAML {Median(read):F0} ms, build model {Median(build):F0} ms, translate {Median(translate):F0} ms (build + translate {Median(build) + Median(translate):F0} ms); as served (MeshTranslator: proxyless + the Envoy flavour's shared clusters and load assignments) {Median(served):F0} ms"));
            return Task.FromResult(0);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static double Median(List<double> values)
    {
        values.Sort();
        return values[values.Count / 2];
    }
}
