namespace Mesh.Client.Bootstrap;

/// <summary>
/// The gRPC xDS bootstrap: which xDS servers to talk to and who this client is. Mesh reads the same JSON as
/// grpc-go, grpc-java and C-core (gRFC A27), so one bootstrap file serves every language in a mesh.
/// </summary>
/// <remarks>
/// <see cref="Load(string?)"/> looks for it in <c>MeshClientOptions.BootstrapJson</c>, then the file named by the
/// <c>GRPC_XDS_BOOTSTRAP</c> environment variable, then the JSON in <c>GRPC_XDS_BOOTSTRAP_CONFIG</c>.
/// </remarks>
public sealed record XdsBootstrap
{
    /// <summary>The environment variable that holds the path of a bootstrap file.</summary>
    public const string FileEnvironmentVariable = "GRPC_XDS_BOOTSTRAP";

    /// <summary>The environment variable that holds the bootstrap JSON itself.</summary>
    public const string ConfigEnvironmentVariable = "GRPC_XDS_BOOTSTRAP_CONFIG";

    /// <summary>The origin named in errors about a bootstrap given in code.</summary>
    public const string OptionsOrigin = "MeshClientOptions.BootstrapJson";

    /// <summary>The xDS servers, in order of preference; at least one. Mesh uses the first.</summary>
    public required IReadOnlyList<XdsServerConfig> XdsServers { get; init; }

    /// <summary>This client's identity.</summary>
    public required XdsNode Node { get; init; }

    /// <summary>The <c>certificate_providers</c> instances, by name.</summary>
    public IReadOnlyDictionary<string, XdsCertificateProviderConfig> CertificateProviders { get; init; } =
        new Dictionary<string, XdsCertificateProviderConfig>(StringComparer.Ordinal);

    /// <summary>
    /// The <c>server_listener_resource_name_template</c> an xDS-enabled server uses to name its listener, with
    /// <c>%s</c> standing for the listening address; null when absent.
    /// </summary>
    public string? ServerListenerResourceNameTemplate { get; init; }

    /// <summary>
    /// The <c>client_default_listener_resource_name_template</c> that maps an <c>xds:///</c> target to a listener
    /// name, with <c>%s</c> standing for the target; null when absent (the target is the name).
    /// </summary>
    public string? ClientDefaultListenerResourceNameTemplate { get; init; }

    /// <summary>Where this bootstrap came from, e.g. <c>MeshClientOptions.BootstrapJson</c> or a file path.</summary>
    public string Origin { get; init; } = "code";

    /// <summary>Parses a bootstrap, collecting every problem before throwing.</summary>
    /// <param name="json">The bootstrap JSON.</param>
    /// <param name="origin">Where it came from, named in errors.</param>
    /// <returns>The bootstrap.</returns>
    /// <exception cref="XdsBootstrapException">The JSON is not a valid bootstrap; the message names each bad field.</exception>
    public static XdsBootstrap Parse(string json, string origin)
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentNullException.ThrowIfNull(origin);
        return XdsBootstrapParser.Parse(json, origin);
    }

    /// <summary>
    /// Finds and parses the bootstrap: <paramref name="jsonFromOptions"/> when set, else the file named by
    /// <c>GRPC_XDS_BOOTSTRAP</c>, else the JSON in <c>GRPC_XDS_BOOTSTRAP_CONFIG</c>.
    /// </summary>
    /// <param name="jsonFromOptions">The JSON from <c>MeshClientOptions.BootstrapJson</c>, or null.</param>
    /// <returns>The bootstrap.</returns>
    /// <exception cref="XdsBootstrapException">No bootstrap was found, the file cannot be read, or it is invalid.</exception>
    public static XdsBootstrap Load(string? jsonFromOptions) =>
        Load(jsonFromOptions, Environment.GetEnvironmentVariable, File.ReadAllText);

    internal static XdsBootstrap Load(string? jsonFromOptions, Func<string, string?> getEnvironmentVariable, Func<string, string> readFile)
    {
        if (jsonFromOptions is not null)
        {
            return Parse(jsonFromOptions, OptionsOrigin);
        }

        var path = getEnvironmentVariable(FileEnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(path))
        {
            var origin = $"file '{path}' ({FileEnvironmentVariable})";
            string json;
            try
            {
                json = readFile(path);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
            {
                throw new XdsBootstrapException(origin, [$"the file cannot be read: {ex.Message}"], ex);
            }

            return Parse(json, origin);
        }

        var inline = getEnvironmentVariable(ConfigEnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(inline))
        {
            return Parse(inline, ConfigEnvironmentVariable);
        }

        throw new XdsBootstrapException(
            $"No xDS bootstrap found: set {OptionsOrigin}, or the environment variable {FileEnvironmentVariable} " +
            $"(the path of a bootstrap file) or {ConfigEnvironmentVariable} (the bootstrap JSON itself).");
    }
}
