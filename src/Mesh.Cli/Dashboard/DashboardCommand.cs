using System.CommandLine;
using System.Net;

namespace Mesh.Cli.Dashboard;

/// <summary><c>mesh dashboard</c>: prints the control plane's dashboard URL, and opens it in a browser with <c>--open</c>.</summary>
internal static class DashboardCommand
{
    public static Command Create(GlobalOptions global)
    {
        var open = new Option<bool>("--open") { Description = "Open the dashboard in the default browser" };
        var command = new Command("dashboard", "Print (or --open) the control plane's dashboard URL") { open };
        command.SetAction(async (result, cancellationToken) =>
        {
            using var client = global.ConnectControlPlane(result);
            var url = new Uri(client.BaseAddress, "dashboard");
            var (status, _) = await client.GetAsync("dashboard", cancellationToken).ConfigureAwait(false);
            if (status == HttpStatusCode.NotFound)
            {
                throw new CliException($"the control plane at {client.BaseAddress} serves no dashboard at {url} (this version has none); its debug pages are {client.BaseAddress}debug/syncz and {client.BaseAddress}debug/configz.");
            }

            global.Context.Out.WriteLine(url);
            if (result.GetValue(open) && !global.Context.OpenBrowser(url))
            {
                global.Context.Error.WriteLine("mesh: no browser could be started; open the URL above yourself.");
            }

            return 0;
        });
        return command;
    }
}
