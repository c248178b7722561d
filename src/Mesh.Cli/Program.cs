using Mesh.Cli;

return await MeshCli.RunAsync(args, CliContext.FromProcess()).ConfigureAwait(false);
