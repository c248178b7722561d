using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Mesh.Interop.Tests;

/// <summary>What one run of <c>tests/interop/grpc-js-xds-client.js</c> reported.</summary>
/// <param name="Counts">Successful calls by the backend that answered.</param>
/// <param name="Errors">Calls that failed.</param>
/// <param name="FirstError">The first failure, as "STATUS: details", or null.</param>
/// <param name="Stderr">What the script (and grpc-js tracing) wrote to stderr.</param>
internal sealed record GrpcJsXdsRun(IReadOnlyDictionary<string, int> Counts, int Errors, string? FirstError, string Stderr)
{
    /// <summary>Every NACK grpc-js-xds sent, as "type (version v, nonce n): message", read from its xds_client trace.</summary>
    public IReadOnlyList<string> Nacks { get; } = GrpcJsXdsClient.FindNacks(Stderr);

    /// <summary>Successful calls.</summary>
    public int Succeeded => Counts.Values.Sum();

    /// <summary>The percentage of all calls that <paramref name="backend"/> answered.</summary>
    public double PercentOf(string backend) => 100.0 * Counts.GetValueOrDefault(backend) / (Succeeded + Errors);

    /// <summary>One line: the counts, the errors and the first error.</summary>
    public string Summary => $"counts {JsonSerializer.Serialize(Counts)}, errors {Errors}, first error {FirstError ?? "none"}";

    /// <summary>The summary followed by the stderr log, for assertion messages.</summary>
    public string Describe() => Summary + "\n" + GrpcJsXdsClient.Excerpt(Stderr);
}

/// <summary>
/// Runs @grpc/grpc-js-xds, a third-party xDS client, as a node process (<c>tests/interop/grpc-js-xds-client.js</c>)
/// against a control plane: it resolves an <c>xds:///</c> target with the given bootstrap, makes unary
/// <c>Echo/Say</c> calls one after the other and reports which backend answered each.
/// </summary>
internal static class GrpcJsXdsClient
{
    private const int MaxStderrInMessage = 16_000;

    /// <summary>The repository root: the nearest folder above the test binaries that holds Mesh.sln.</summary>
    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    private static string InteropDirectory => Path.Combine(RepositoryRoot, "tests", "interop");

    /// <summary>
    /// Makes <paramref name="calls"/> calls to <paramref name="target"/> through the control plane at
    /// <paramref name="xdsAddress"/>, as node <c>grpc-js-interop</c> in <paramref name="namespace"/>. Fails the test if
    /// the script cannot run, exits non-zero or does not finish within <paramref name="timeout"/> (default 90 s);
    /// the failure message carries its stderr, which includes grpc-js's xDS trace (and so any NACK it sent).
    /// </summary>
    public static async Task<GrpcJsXdsRun> RunAsync(
        Uri xdsAddress, string target, int calls, string @namespace = "default", TimeSpan? timeout = null, IReadOnlyList<string>? extraArguments = null)
    {
        var nodeModules = Path.Combine(InteropDirectory, "node_modules", "@grpc", "grpc-js-xds");
        Assert.True(
            Directory.Exists(nodeModules),
            $"The npm packages for the interoperability tests are missing ({nodeModules}). Run `npm ci` in {InteropDirectory} (test.sh does this) and run the tests again.");

        var hardLimit = timeout ?? TimeSpan.FromSeconds(90);
        var bootstrap = new JsonObject
        {
            ["xds_servers"] = new JsonArray(new JsonObject
            {
                ["server_uri"] = $"{xdsAddress.Host}:{xdsAddress.Port}",
                ["channel_creds"] = new JsonArray(new JsonObject { ["type"] = "insecure" }),
                ["server_features"] = new JsonArray("xds_v3"),
            }),
            ["node"] = new JsonObject
            {
                ["id"] = "grpc-js-interop",
                // grpc-js-xds 1.14 rejects a bootstrap whose node has no locality ("locality field missing in node element").
                ["locality"] = new JsonObject(),
                ["metadata"] = new JsonObject { ["NAMESPACE"] = @namespace },
            },
        };

        var start = new ProcessStartInfo("node")
        {
            WorkingDirectory = InteropDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        start.ArgumentList.Add(Path.Combine(InteropDirectory, "grpc-js-xds-client.js"));
        start.ArgumentList.Add(target);
        start.ArgumentList.Add(calls.ToString(System.Globalization.CultureInfo.InvariantCulture));
        start.ArgumentList.Add(Path.Combine(InteropDirectory, "echo.proto"));
        // The script's own limit ends it a little before ours, so a slow run still reports why.
        start.ArgumentList.Add("--timeout-ms");
        start.ArgumentList.Add(((int)(hardLimit.TotalMilliseconds * 0.9)).ToString(System.Globalization.CultureInfo.InvariantCulture));
        foreach (var argument in extraArguments ?? [])
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["GRPC_XDS_BOOTSTRAP_CONFIG"] = bootstrap.ToJsonString();
        start.Environment.Remove("GRPC_XDS_BOOTSTRAP");
        start.Environment["GRPC_TRACE"] = "xds_client,xds_resolver";
        start.Environment["GRPC_VERBOSITY"] = "DEBUG";

        using var process = new Process { StartInfo = start };
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            Assert.Fail($"Could not start node (is Node.js 20+ on PATH?): {ex.Message}");
        }

        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using (var cts = new CancellationTokenSource(hardLimit))
        {
            try
            {
                await process.WaitForExitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
                Assert.Fail($"grpc-js-xds-client.js did not finish within {hardLimit.TotalSeconds:F0} s and was killed.\n{Excerpt(await stderr)}");
            }
        }

        var output = await stdout;
        var log = await stderr;
        Assert.True(process.ExitCode == 0, $"grpc-js-xds-client.js exited with {process.ExitCode}.\nstdout: {output}\n{Excerpt(log)}");

        var line = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault();
        JsonNode? result = null;
        try
        {
            result = line is null ? null : JsonNode.Parse(line);
        }
        catch (JsonException)
        {
        }

        Assert.True(result is JsonObject, $"grpc-js-xds-client.js printed no JSON result.\nstdout: {output}\n{Excerpt(log)}");
        var counts = result["counts"]!.AsObject().ToDictionary(p => p.Key, p => p.Value!.GetValue<int>(), StringComparer.Ordinal);
        return new GrpcJsXdsRun(counts, result["errors"]!.GetValue<int>(), (string?)result["firstError"], log);
    }

    /// <summary>
    /// The NACKs in a grpc-js xds_client trace: each discovery request is logged as
    /// <c>Sending discovery request: {...}</c> (indented JSON), and a NACK is one whose <c>error_detail</c> is set.
    /// </summary>
    internal static IReadOnlyList<string> FindNacks(string stderr)
    {
        const string Marker = "Sending discovery request: ";
        var nacks = new List<string>();
        for (var at = stderr.IndexOf(Marker, StringComparison.Ordinal); at >= 0; at = stderr.IndexOf(Marker, at, StringComparison.Ordinal))
        {
            at += Marker.Length;
            var end = stderr.IndexOf("\n}", at, StringComparison.Ordinal);
            if (end < 0)
            {
                break;
            }

            JsonNode? request;
            try
            {
                request = JsonNode.Parse(stderr[at..(end + 2)]);
            }
            catch (JsonException)
            {
                continue;
            }

            if (request?["error_detail"] is JsonObject error)
            {
                nacks.Add($"{(string?)request["type_url"]} (version {(string?)request["version_info"]}, nonce {(string?)request["response_nonce"]}): {(string?)error["message"]}");
            }
        }

        return nacks;
    }

    /// <summary>The stderr log for an assertion message: all of it when short, else its start and end.</summary>
    internal static string Excerpt(string stderr)
    {
        if (stderr.Length <= MaxStderrInMessage)
        {
            return "stderr:\n" + stderr;
        }

        var head = MaxStderrInMessage / 4;
        var tail = MaxStderrInMessage - head;
        return $"stderr ({stderr.Length} chars, middle left out):\n{stderr[..head]}\n[...]\n{stderr[^tail..]}";
    }

    private static string FindRepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Mesh.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"No folder above {AppContext.BaseDirectory} holds Mesh.sln.");
    }
}
