using System.Globalization;
using System.IO.Compression;
using System.Text.Json.Nodes;
using System.Xml.Linq;
using Grpc.Core;
using Mesh.Consumer;
using Mesh.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.Samples.Tests.Packaging;

/// <summary>
/// The packages as a user gets them: `dotnet pack` of the solution, then a fresh console app outside the repository
/// that runs `dotnet add package Mesh.Client --source FEED` and calls a service through xds:///.
/// </summary>
public sealed class PackageConsumerTests : IAsyncLifetime
{
    private static readonly string[] Packages = ["Mesh.Xds", "Mesh.Client", "Mesh.Server", "Mesh.ControlPlane"];

    // A version of its own per run, and an extraction folder of its own: never a stale Mesh.Client 0.1.0 from a cache.
    private readonly string _version = "0.1.0-consumer." + DateTime.UtcNow.ToString("yyyyMMddHHmmssfff", CultureInfo.InvariantCulture);
    private readonly string _work = Path.Combine(Path.GetTempPath(), "mesh-consumer-" + Guid.NewGuid().ToString("N"));

    private string Feed => Path.Combine(_work, "feed");

    public Task InitializeAsync()
    {
        Directory.CreateDirectory(_work);
        // An app under the temporary folder must not pick up a Directory.Build.props, Directory.Packages.props or
        // global.json from above it (the folder may be inside a checkout when TMPDIR points there).
        File.WriteAllText(Path.Combine(_work, "Directory.Build.props"), "<Project />");
        File.WriteAllText(Path.Combine(_work, "Directory.Build.targets"), "<Project />");
        File.WriteAllText(Path.Combine(_work, "Directory.Packages.props"), "<Project />");
        return Task.CompletedTask;
    }

    public Task DisposeAsync()
    {
        try
        {
            Directory.Delete(_work, recursive: true);
        }
        catch (IOException)
        {
        }

        return Task.CompletedTask;
    }

    [Fact]
    public async Task DotnetAddPackage_MeshClientFromTheLocalFeed_CallsAServiceThroughXds()
    {
        await PackAsync();
        AssertPackageMetadata();

        // A backend and a control plane that knows where it is.
        await using var backend = await GreeterBackend.StartAsync();
        await using var controlPlane = await TestControlPlane.StartAsync(new Dictionary<string, string>
        {
            ["greeter.yaml"] = """
                apiVersion: networking.istio.io/v1
                kind: ServiceEntry
                metadata: {name: greeter}
                spec:
                  hosts: [greeter.default.svc.cluster.local]
                  location: MESH_INTERNAL
                  resolution: STATIC
                  ports: [{number: 9080, name: grpc, protocol: GRPC}]
                  endpoints:
                  - {address: 127.0.0.1, ports: {grpc: PORT}}
                """.Replace("PORT", backend.Port.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal),
        });

        // The user's steps: a new console app, the package from the feed, a proto, build, run.
        var app = Path.Combine(_work, "app");
        await DotnetAsync(_work, "new", "console", "--output", app, "--name", "MeshConsumer", "--framework", "net10.0");
        WriteNuGetConfig(app);
        File.Copy(Path.Combine(AppContext.BaseDirectory, "Packaging", "greeter.proto"), Path.Combine(app, "greeter.proto"));
        File.Copy(Path.Combine(AppContext.BaseDirectory, "Packaging", "ConsumerProgram.cs.txt"), Path.Combine(app, "Program.cs"), overwrite: true);
        AddToProject(app, """
              <ItemGroup>
                <PackageReference Include="Grpc.Tools" Version="2.85.0" PrivateAssets="All" />
                <Protobuf Include="greeter.proto" GrpcServices="Client" />
              </ItemGroup>
            """);
        await DotnetAsync(app, "add", "package", "Mesh.Client", "--version", _version, "--source", Feed);
        await DotnetAsync(app, "build", "--configuration", "Release", "--nologo");

        var bootstrap = new JsonObject
        {
            ["xds_servers"] = new JsonArray(new JsonObject
            {
                ["server_uri"] = controlPlane.XdsAddress.Authority,
                ["channel_creds"] = new JsonArray(new JsonObject { ["type"] = "insecure" }),
                ["server_features"] = new JsonArray("xds_v3"),
            }),
            ["node"] = new JsonObject { ["id"] = "consumer.default", ["metadata"] = new JsonObject { ["NAMESPACE"] = "default" } },
        };
        var run = await CommandLine.RunAsync(
            "dotnet",
            [Path.Combine(app, "bin", "Release", "net10.0", "MeshConsumer.dll")],
            app,
            TimeSpan.FromSeconds(90),
            new Dictionary<string, string?> { ["GRPC_XDS_BOOTSTRAP_CONFIG"] = bootstrap.ToJsonString() });

        Assert.True(run.ExitCode == 0, run.Output);
        Assert.Contains("reply: Hello consumer from the backend", run.Output, StringComparison.Ordinal);
        Assert.Equal(1, backend.Calls);
    }

    [Fact]
    public async Task DotnetToolInstall_MeshCliFromTheLocalFeed_TalksToAControlPlane()
    {
        var pack = await CommandLine.RunAsync(
            "dotnet",
            ["pack", Path.Combine("src", "Mesh.Cli", "Mesh.Cli.csproj"), "--configuration", RepositoryRoot.Configuration, "--no-build", "--nologo",
                "-p:PackageOutputPath=" + Feed, "-p:Version=" + _version],
            RepositoryRoot.Path,
            TimeSpan.FromSeconds(180));
        Assert.True(pack.ExitCode == 0, pack.Output);

        // The user's step (a tool path rather than --global, so the machine's tools are left alone).
        var home = Path.Combine(_work, "home");
        Directory.CreateDirectory(home);
        WriteNuGetConfig(home);
        var tools = Path.Combine(_work, "tools");
        await DotnetAsync(home, "tool", "install", "Mesh.Cli", "--tool-path", tools, "--version", _version, "--add-source", Feed);

        await using var controlPlane = await TestControlPlane.StartAsync(new Dictionary<string, string>());
        var mesh = Path.Combine(tools, OperatingSystem.IsWindows() ? "mesh.exe" : "mesh");
        var version = await CommandLine.RunAsync(mesh, ["version", "--control-plane", controlPlane.HttpAddress.ToString()], home, TimeSpan.FromSeconds(60));
        var status = await CommandLine.RunAsync(mesh, ["proxy-status", "--control-plane", controlPlane.HttpAddress.ToString()], home, TimeSpan.FromSeconds(60));

        Assert.True(version.ExitCode == 0, version.Output);
        Assert.Matches(@"client version: \d+\.\d+\.\d+", version.Output); // the assembly built by test.sh; the package carries _version
        Assert.Matches(@"control plane version: \d+\.\d+\.\d+", version.Output);
        Assert.True(status.ExitCode == 0, status.Output);
        Assert.DoesNotContain("cannot reach", status.Output, StringComparison.Ordinal);
    }

    // `dotnet pack` of the solution, as a user would run it (the build is test.sh's, hence --no-build), into a
    // feed of this test's own.
    private async Task PackAsync()
    {
        var result = await CommandLine.RunAsync(
            "dotnet",
            ["pack", "Mesh.sln", "--configuration", RepositoryRoot.Configuration, "--no-build", "--nologo",
                "-p:PackageOutputPath=" + Feed, "-p:Version=" + _version],
            RepositoryRoot.Path,
            TimeSpan.FromSeconds(180));
        Assert.True(result.ExitCode == 0, result.Output);
    }

    private void AssertPackageMetadata()
    {
        foreach (var id in Packages)
        {
            var package = Path.Combine(Feed, $"{id}.{_version}.nupkg");
            Assert.True(File.Exists(package), $"{package} was not produced; the feed has: {string.Join(", ", Directory.GetFiles(Feed).Select(Path.GetFileName))}");
            Assert.True(File.Exists(Path.ChangeExtension(package, ".snupkg")), $"{id} has no symbol package");

            using var zip = ZipFile.OpenRead(package);
            var nuspec = XDocument.Load(zip.GetEntry(id + ".nuspec")!.Open());
            var ns = nuspec.Root!.Name.Namespace;
            var metadata = nuspec.Root.Element(ns + "metadata")!;
            Assert.Equal(_version, metadata.Element(ns + "version")!.Value);
            Assert.Equal("MIT", metadata.Element(ns + "license")!.Value);
            Assert.Equal("README.md", metadata.Element(ns + "readme")!.Value);
            Assert.NotNull(zip.GetEntry("README.md"));
            var repository = metadata.Element(ns + "repository");
            Assert.NotNull(repository);
            Assert.Equal("git", repository.Attribute("type")?.Value);
            Assert.False(string.IsNullOrEmpty(repository.Attribute("commit")?.Value), $"{id}: no commit in the repository element");
            if (id == "Mesh.ControlPlane")
            {
                Assert.Equal("DotnetTool", metadata.Element(ns + "packageTypes")!.Element(ns + "packageType")!.Attribute("name")!.Value);
                Assert.Contains(zip.Entries, e => e.FullName == "tools/net10.0/any/DotnetToolSettings.xml");
            }
            else
            {
                Assert.Contains(zip.Entries, e => e.FullName == $"lib/net10.0/{id}.dll");
                Assert.Contains(zip.Entries, e => e.FullName == $"lib/net10.0/{id}.xml");
            }
        }
    }

    // The local feed first, nuget.org for everything else; packages extracted into a folder of this test's own, with
    // the machine's package cache as a read-only fallback so that nothing already there is downloaded again.
    private void WriteNuGetConfig(string app)
    {
        var cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } configured
            ? configured
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <config>
                <add key="globalPackagesFolder" value="{Path.Combine(_work, "packages")}" />
              </config>
              <fallbackPackageFolders>
                <clear />
                <add key="machine" value="{cache}" />
              </fallbackPackageFolders>
              <packageSources>
                <clear />
                <add key="mesh-local" value="{Feed}" />
                <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
              </packageSources>
            </configuration>
            """);
    }

    private static void AddToProject(string app, string items)
    {
        var project = Path.Combine(app, "MeshConsumer.csproj");
        var text = File.ReadAllText(project);
        File.WriteAllText(project, text.Replace("</Project>", items + "\n</Project>", StringComparison.Ordinal));
    }

    private static async Task DotnetAsync(string directory, params string[] arguments)
    {
        var result = await CommandLine.RunAsync(
            "dotnet", arguments, directory, TimeSpan.FromSeconds(240),
            new Dictionary<string, string?> { ["NUGET_PACKAGES"] = null, ["DOTNET_NOLOGO"] = "1", ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1" });
        Assert.True(result.ExitCode == 0, $"dotnet {string.Join(' ', arguments)}:\n{result.Output}");
    }

    /// <summary>A loopback gRPC server for the Greeter service, counting its calls.</summary>
    private sealed class GreeterBackend : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private int _calls;

        private GreeterBackend(WebApplication app, int port)
        {
            _app = app;
            Port = port;
        }

        public int Port { get; }

        public int Calls => Volatile.Read(ref _calls);

        public static async Task<GreeterBackend> StartAsync()
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http2));
            builder.Services.AddGrpc();
            var counter = new GreeterService();
            builder.Services.AddSingleton(counter);
            var app = builder.Build();
            app.MapGrpcService<GreeterService>();
            await app.StartAsync();
            var address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
            var backend = new GreeterBackend(app, address.Port);
            counter.Owner = backend;
            return backend;
        }

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        private sealed class GreeterService : Greeter.GreeterBase
        {
            public GreeterBackend? Owner { get; set; }

            public override Task<HelloReply> SayHello(HelloRequest request, ServerCallContext context)
            {
                Interlocked.Increment(ref Owner!._calls);
                return Task.FromResult(new HelloReply { Message = $"Hello {request.Name} from the backend" });
            }
        }
    }
}
