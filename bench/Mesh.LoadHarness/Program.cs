using System.Globalization;
using Mesh.LoadHarness;
using Mesh.LoadHarness.Chaos;

const string Usage = """
    Usage: Mesh.LoadHarness MODE [options]
      cp-scale       [--clients 1000] [--services 100] [--subscribe 20] [--streams-per-connection 100]
                     [--delta-percent P] [--churn P] [--stuck K] [--send-timeout-s S] [--replicas R]
                     [--lrs [--lrs-interval-s 10]]   (run twice: without and with load reporting, and compare)
      k8s-scale      [--services 1000] [--endpoints 10] [--clients 1000] [--subscribe 10] [--rate 100] [--seconds 60]
                     [--streams-per-connection 100] [--debounce-quiet MS] [--debounce-max MS]
      translate      [--services 1000] [--endpoints 10] [--runs 5]
      client-memory  [--services 200]
      client-cpu     [--rps 1000] [--seconds 10] [--rounds 2]
      serve          --config-dir DIR | --kubeconfig PATH [--ca-dir DIR] [--backend] [--load-reporting-interval-ms N] [--send-timeout-s S]
                     (the child process the others start)
      chaos          [--short] [--rps 1000] [--phase-seconds 60] [--outage-seconds 60] [--backends 4]
                     [--cert-seconds 20] [--kill-every-ms 5000] [--recovery-seconds 5] [--keep]
      chaos-cp | chaos-backend | chaos-client   (the chaos run's child processes)
      gateway        [--short] [--seconds 20] [--concurrency 64] [--backends 2] [--rounds 2]
                     (rps and p50/p99 through the Mesh gateway vs YARP configured statically, side by side)
    """;

return args switch
{
    ["cp-scale", ..] => await ControlPlaneScale.RunAsync(args).ConfigureAwait(false),
    ["k8s-scale", ..] => await KubernetesScale.RunAsync(args).ConfigureAwait(false),
    ["translate", ..] => await TranslationTime.RunAsync(args).ConfigureAwait(false),
    ["client-memory" or "client-cpu", ..] => await ClientCost.RunAsync(args[0], args).ConfigureAwait(false),
    ["serve", ..] => await ServeMode.RunAsync(args).ConfigureAwait(false),
    ["chaos", ..] => await ChaosDriver.RunAsync(args).ConfigureAwait(false),
    ["gateway", ..] => await GatewayBenchmark.RunAsync(args).ConfigureAwait(false),
    ["chaos-cp", ..] => await ChaosControlPlane.RunAsync(args).ConfigureAwait(false),
    ["chaos-backend", ..] => await ChaosBackend.RunAsync(args).ConfigureAwait(false),
    ["chaos-client", ..] => await ChaosClient.RunAsync(args).ConfigureAwait(false),
    _ => Fail(),
};

static int Fail()
{
    Console.Error.WriteLine(Usage);
    return 2;
}

namespace Mesh.LoadHarness
{
    internal static partial class Program
    {
        public static int Option(string[] args, string name, int fallback)
        {
            var index = Array.IndexOf(args, name);
            return index >= 0 && index + 1 < args.Length ? int.Parse(args[index + 1], CultureInfo.InvariantCulture) : fallback;
        }
    }
}
