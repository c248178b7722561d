using Mesh.ControlPlane;
using Microsoft.AspNetCore.Builder;

if (args is ["--help" or "-h"])
{
    Console.WriteLine(ControlPlaneHost.Usage);
    return 0;
}

if (args is ["token", .. var tokenArgs])
{
    return ControlPlaneHost.RunTokenCommand(tokenArgs, Console.Out, Console.Error);
}

var options = new ControlPlaneOptions();
if (ControlPlaneHost.ParseArguments(args, options) is { } error)
{
    Console.Error.WriteLine("mesh-controlplane: " + error);
    Console.Error.WriteLine(ControlPlaneHost.Usage);
    return 2;
}

var app = ControlPlaneHost.Build(options);
try
{
    await app.StartAsync().ConfigureAwait(false);
}
catch (InvalidOperationException ex)
{
    Console.Error.WriteLine("mesh-controlplane: " + ex.Message);
    return 1;
}
catch (IOException ex)
{
    Console.Error.WriteLine("mesh-controlplane: cannot listen: " + ex.Message);
    return 1;
}

var (xds, http) = ControlPlaneHost.GetAddresses(app);
var tls = ControlPlaneHost.GetTlsAddress(app);
Console.WriteLine($"Mesh control plane serving xDS on {xds.Authority}, xDS over TLS and certificate signing on {tls.Authority}, and debug on {http}debug/syncz (config: {options.ConfigDir ?? "embedded default"}; CA: {options.ResolveCaDir()}).");
await app.WaitForShutdownAsync().ConfigureAwait(false);
return 0;
