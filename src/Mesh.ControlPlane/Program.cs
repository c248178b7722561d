using Mesh.ControlPlane;
using Microsoft.AspNetCore.Builder;

if (args is ["--help" or "-h"])
{
    Console.WriteLine(ControlPlaneHost.Usage);
    return 0;
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
Console.WriteLine($"Mesh control plane serving xDS on {xds.Authority} and debug on {http}debug/syncz (config: {options.ConfigDir ?? "embedded default"}).");
await app.WaitForShutdownAsync().ConfigureAwait(false);
return 0;
