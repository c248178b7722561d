using System.CommandLine;
using System.Globalization;
using System.Text.RegularExpressions;
using Mesh.ControlPlane.Security;

namespace Mesh.Cli.Token;

/// <summary>
/// <c>mesh token create</c>: a join token proving <c>spiffe://TD/ns/NS/sa/SA</c> to the CA in <c>--ca-dir</c>, the same as
/// <c>mesh-controlplane token create</c> (which keeps working), through the CA's public API.
/// </summary>
internal static partial class TokenCommand
{
    public static Command Create(GlobalOptions global)
    {
        var ns = new Option<string>("--namespace", "-n") { Description = "The workload's namespace", Required = true, HelpName = "NS" };
        var sa = new Option<string>("--service-account") { Description = "The workload's service account", Required = true, HelpName = "SA" };
        var ttl = new Option<string>("--ttl") { Description = "How long the token is valid (e.g. 30m, 24h, 720h)", DefaultValueFactory = _ => "24h", HelpName = "DURATION" };
        var caDir = new Option<string>("--ca-dir") { Description = "The CA directory of the control plane", DefaultValueFactory = _ => ".mesh-ca", HelpName = "DIR" };
        var trustDomain = new Option<string>("--trust-domain") { Description = "Trust domain of workload identities", DefaultValueFactory = _ => "cluster.local", HelpName = "DOMAIN" };
        var create = new Command("create", "Print a join token that proves a workload identity to the control plane's CA (for VMs and local runs)")
        {
            ns, sa, ttl, caDir, trustDomain,
        };
        create.SetAction(result =>
        {
            var lifetime = ParseDuration(result.GetValue(ttl)!)
                ?? throw new CliException($"--ttl: '{result.GetValue(ttl)}' is not a positive duration like 24h or 30m.", CliException.Usage);
            string token;
            try
            {
                using var authority = CertificateAuthority.LoadOrCreate(result.GetValue(caDir)!, result.GetValue(trustDomain)!, global.Context.Time);
                token = authority.CreateJoinToken(result.GetValue(ns)!, result.GetValue(sa)!, lifetime);
            }
            catch (ArgumentException ex)
            {
                throw new CliException(ex.Message, CliException.Usage, ex);
            }
            catch (InvalidOperationException ex)
            {
                throw new CliException(ex.Message, CliException.Failure, ex);
            }

            global.Context.Out.WriteLine(token);
            return 0;
        });
        return new Command("token", "Join tokens for workloads outside Kubernetes") { create };
    }

    /// <summary>Durations as Istio writes them: <c>90s</c>, <c>30m</c>, <c>24h</c>, <c>7d</c>, or combinations like <c>1h30m</c>.</summary>
    public static TimeSpan? ParseDuration(string text)
    {
        var match = DurationPattern().Match(text);
        if (!match.Success || text.Length == 0)
        {
            return null;
        }

        var total = TimeSpan.Zero;
        foreach (Capture part in match.Groups["part"].Captures)
        {
            var unit = part.Value[^1];
            var number = double.Parse(part.Value[..^1], CultureInfo.InvariantCulture);
            total += unit switch
            {
                'd' => TimeSpan.FromDays(number),
                'h' => TimeSpan.FromHours(number),
                'm' => TimeSpan.FromMinutes(number),
                _ => TimeSpan.FromSeconds(number),
            };
        }

        return total > TimeSpan.Zero ? total : null;
    }

    [GeneratedRegex(@"^(?<part>\d+(\.\d+)?[dhms])+$", RegexOptions.CultureInvariant)]
    private static partial Regex DurationPattern();
}
