using System.Globalization;
using Mesh.LoadHarness;

const string Usage = """
    Usage: Mesh.LoadHarness MODE [options]
      cp-scale       [--clients 1000] [--services 100] [--subscribe 20] [--streams-per-connection 100]
                     [--lrs [--lrs-interval-s 10]]   (run twice: without and with load reporting, and compare)
      translate      [--services 1000] [--endpoints 10] [--runs 5]
      client-memory  [--services 200]
      client-cpu     [--rps 1000] [--seconds 10] [--rounds 2]
      serve          --config-dir DIR [--backend]   (the child process the others start)
    """;

return args switch
{
    ["cp-scale", ..] => await ControlPlaneScale.RunAsync(args).ConfigureAwait(false),
    ["translate", ..] => await TranslationTime.RunAsync(args).ConfigureAwait(false),
    ["client-memory" or "client-cpu", ..] => await ClientCost.RunAsync(args[0], args).ConfigureAwait(false),
    ["serve", ..] => await ServeMode.RunAsync(args).ConfigureAwait(false),
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
