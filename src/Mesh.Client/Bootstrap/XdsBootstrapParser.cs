using System.Text.Json;
using Google.Protobuf.WellKnownTypes;

namespace Mesh.Client.Bootstrap;

/// <summary>
/// Reads the bootstrap JSON into an <see cref="XdsBootstrap"/>, collecting every problem (with the path of its
/// field) instead of stopping at the first. Unknown fields are ignored, as in other gRPC implementations.
/// </summary>
internal sealed class XdsBootstrapParser
{
    private static readonly string[] SupportedCredentials = [XdsServerConfig.InsecureCredentials, XdsServerConfig.TlsCredentials];

    private readonly List<string> _errors = [];

    private XdsBootstrapParser()
    {
    }

    public static XdsBootstrap Parse(string json, string origin)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException ex)
        {
            throw new XdsBootstrapException(origin, [$"the document is not valid JSON: {ex.Message}"], ex);
        }

        using (document)
        {
            var parser = new XdsBootstrapParser();
            var bootstrap = parser.Read(document.RootElement, origin);
            if (parser._errors.Count > 0 || bootstrap is null)
            {
                throw new XdsBootstrapException(origin, parser._errors);
            }

            return bootstrap;
        }
    }

    private XdsBootstrap? Read(JsonElement root, string origin)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            _errors.Add("the document must be a JSON object");
            return null;
        }

        var servers = ReadServers(root);
        var node = ReadNode(root);
        var providers = ReadCertificateProviders(root);
        var serverTemplate = OptionalString(root, "server_listener_resource_name_template", "server_listener_resource_name_template");
        var clientTemplate = OptionalString(root, "client_default_listener_resource_name_template", "client_default_listener_resource_name_template");
        return new XdsBootstrap
        {
            XdsServers = servers,
            Node = node,
            CertificateProviders = providers,
            ServerListenerResourceNameTemplate = serverTemplate,
            ClientDefaultListenerResourceNameTemplate = clientTemplate,
            Origin = origin,
        };
    }

    private List<XdsServerConfig> ReadServers(JsonElement root)
    {
        var servers = new List<XdsServerConfig>();
        if (!TryGet(root, "xds_servers", out var list))
        {
            _errors.Add("xds_servers is required");
            return servers;
        }

        if (list.ValueKind != JsonValueKind.Array)
        {
            _errors.Add("xds_servers must be an array");
            return servers;
        }

        if (list.GetArrayLength() == 0)
        {
            _errors.Add("xds_servers must name at least one server");
            return servers;
        }

        var index = 0;
        foreach (var entry in list.EnumerateArray())
        {
            var path = $"xds_servers[{index++}]";
            if (ReadServer(entry, path) is { } server)
            {
                servers.Add(server);
            }
        }

        return servers;
    }

    private XdsServerConfig? ReadServer(JsonElement entry, string path)
    {
        if (entry.ValueKind != JsonValueKind.Object)
        {
            _errors.Add($"{path} must be an object");
            return null;
        }

        // A present but non-string server_uri has already been reported as such by OptionalString.
        var hasUri = TryGet(entry, "server_uri", out _);
        var uri = OptionalString(entry, "server_uri", $"{path}.server_uri");
        if (!hasUri || (uri is not null && string.IsNullOrWhiteSpace(uri)))
        {
            _errors.Add($"{path}.server_uri is required");
            uri = null;
        }

        var (credentialsType, credentialsConfig) = ReadChannelCredentials(entry, path);
        if (uri is not null && credentialsType is not null && !XdsServerConfig.TryGetAddress(uri, credentialsType, out _))
        {
            _errors.Add($"{path}.server_uri '{uri}' is not a valid address (expected host:port)");
        }

        var features = new List<string>();
        if (TryGet(entry, "server_features", out var featureList))
        {
            if (featureList.ValueKind != JsonValueKind.Array)
            {
                _errors.Add($"{path}.server_features must be an array of strings");
            }
            else
            {
                var i = 0;
                foreach (var feature in featureList.EnumerateArray())
                {
                    if (feature.ValueKind == JsonValueKind.String)
                    {
                        features.Add(feature.GetString()!);
                    }
                    else
                    {
                        _errors.Add($"{path}.server_features[{i}] must be a string");
                    }

                    i++;
                }
            }
        }

        var tokenFile = ReadCallCredentials(entry, path, credentialsType);
        if (uri is null || credentialsType is null)
        {
            return null;
        }

        return new XdsServerConfig
        {
            ServerUri = uri,
            ChannelCredentialsType = credentialsType,
            ChannelCredentialsConfig = credentialsConfig,
            ServerFeatures = features,
            CallCredentialsTokenFile = tokenFile,
        };
    }

    /// <summary>gRFC A97 <c>call_creds</c>: the first <c>jwt_token_file</c> entry's file; other types are ignored.</summary>
    private string? ReadCallCredentials(JsonElement server, string path, string? channelCredentials)
    {
        if (!TryGet(server, "call_creds", out var list))
        {
            return null;
        }

        if (list.ValueKind != JsonValueKind.Array)
        {
            _errors.Add($"{path}.call_creds must be an array");
            return null;
        }

        var index = 0;
        foreach (var creds in list.EnumerateArray())
        {
            var credsPath = $"{path}.call_creds[{index++}]";
            if (creds.ValueKind != JsonValueKind.Object || OptionalString(creds, "type", $"{credsPath}.type") != XdsServerConfig.JwtTokenFileCallCredentials)
            {
                continue;
            }

            string? file = null;
            if (TryGet(creds, "config", out var config) && config.ValueKind == JsonValueKind.Object)
            {
                file = OptionalString(config, "jwt_token_file", $"{credsPath}.config.jwt_token_file");
            }

            if (string.IsNullOrEmpty(file))
            {
                _errors.Add($"{credsPath}.config.jwt_token_file is required");
                return null;
            }

            if (channelCredentials is not null && channelCredentials != XdsServerConfig.TlsCredentials)
            {
                _errors.Add($"{credsPath}: call credentials are sent only over TLS channel credentials (the token would travel in plaintext)");
                return null;
            }

            return file;
        }

        return null;
    }

    private (string? Type, JsonElement? Config) ReadChannelCredentials(JsonElement server, string path)
    {
        if (!TryGet(server, "channel_creds", out var list))
        {
            _errors.Add($"{path}.channel_creds is required");
            return (null, null);
        }

        if (list.ValueKind != JsonValueKind.Array)
        {
            _errors.Add($"{path}.channel_creds must be an array");
            return (null, null);
        }

        var seen = new List<string>();
        var index = 0;
        var valid = true;
        foreach (var creds in list.EnumerateArray())
        {
            var credsPath = $"{path}.channel_creds[{index++}]";
            if (creds.ValueKind != JsonValueKind.Object)
            {
                _errors.Add($"{credsPath} must be an object");
                valid = false;
                continue;
            }

            var type = OptionalString(creds, "type", $"{credsPath}.type");
            if (string.IsNullOrEmpty(type))
            {
                _errors.Add($"{credsPath}.type is required");
                valid = false;
                continue;
            }

            JsonElement? config = null;
            if (TryGet(creds, "config", out var configElement))
            {
                if (configElement.ValueKind != JsonValueKind.Object)
                {
                    _errors.Add($"{credsPath}.config must be an object");
                    valid = false;
                    continue;
                }

                config = configElement.Clone();
            }

            if (Array.IndexOf(SupportedCredentials, type) >= 0)
            {
                return (type, config);
            }

            seen.Add(type);
        }

        if (valid)
        {
            var got = seen.Count == 0 ? "none" : string.Join(", ", seen);
            _errors.Add($"{path}.channel_creds has no supported type (supported: {string.Join(", ", SupportedCredentials)}; got: {got})");
        }

        return (null, null);
    }

    private XdsNode ReadNode(JsonElement root)
    {
        var node = new XdsNode { Id = XdsNode.DefaultId() };
        if (!TryGet(root, "node", out var element))
        {
            return node;
        }

        if (element.ValueKind != JsonValueKind.Object)
        {
            _errors.Add("node must be an object");
            return node;
        }

        var id = OptionalString(element, "id", "node.id");
        var cluster = OptionalString(element, "cluster", "node.cluster");
        var metadata = new Struct();
        if (TryGet(element, "metadata", out var metadataElement))
        {
            if (metadataElement.ValueKind == JsonValueKind.Object)
            {
                metadata = ToStruct(metadataElement);
            }
            else
            {
                _errors.Add("node.metadata must be an object");
            }
        }

        XdsLocality? locality = null;
        if (TryGet(element, "locality", out var localityElement))
        {
            if (localityElement.ValueKind == JsonValueKind.Object)
            {
                locality = new XdsLocality(
                    OptionalString(localityElement, "region", "node.locality.region") ?? string.Empty,
                    OptionalString(localityElement, "zone", "node.locality.zone") ?? string.Empty,
                    OptionalString(localityElement, "sub_zone", "node.locality.sub_zone") ?? string.Empty);
            }
            else
            {
                _errors.Add("node.locality must be an object");
            }
        }

        return new XdsNode
        {
            Id = string.IsNullOrEmpty(id) ? XdsNode.DefaultId() : id,
            Cluster = cluster ?? string.Empty,
            Metadata = metadata,
            Locality = locality,
        };
    }

    private Dictionary<string, XdsCertificateProviderConfig> ReadCertificateProviders(JsonElement root)
    {
        var providers = new Dictionary<string, XdsCertificateProviderConfig>(StringComparer.Ordinal);
        if (!TryGet(root, "certificate_providers", out var map))
        {
            return providers;
        }

        if (map.ValueKind != JsonValueKind.Object)
        {
            _errors.Add("certificate_providers must be an object");
            return providers;
        }

        foreach (var property in map.EnumerateObject())
        {
            var path = $"certificate_providers.{property.Name}";
            if (property.Value.ValueKind != JsonValueKind.Object)
            {
                _errors.Add($"{path} must be an object");
                continue;
            }

            var plugin = OptionalString(property.Value, "plugin_name", $"{path}.plugin_name");
            if (string.IsNullOrEmpty(plugin))
            {
                _errors.Add($"{path}.plugin_name is required");
                continue;
            }

            var config = TryGet(property.Value, "config", out var configElement)
                ? configElement.Clone()
                : JsonDocument.Parse("{}").RootElement.Clone();

            // The plugins Mesh has check their config now, so a bad one stops start-up naming its field.
            Security.CertificateProviderPlugins.ReadConfig(plugin, config, path, _errors);
            providers[property.Name] = new XdsCertificateProviderConfig(plugin, config);
        }

        return providers;
    }

    /// <summary>The string at <paramref name="name"/>, null when absent or JSON null; records an error when not a string.</summary>
    private string? OptionalString(JsonElement parent, string name, string path)
    {
        if (!TryGet(parent, name, out var value))
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.String)
        {
            _errors.Add($"{path} must be a string");
            return null;
        }

        return value.GetString();
    }

    /// <summary>The property <paramref name="name"/> when present and not JSON null.</summary>
    private static bool TryGet(JsonElement parent, string name, out JsonElement value) =>
        parent.TryGetProperty(name, out value) && value.ValueKind != JsonValueKind.Null;

    private static Struct ToStruct(JsonElement element)
    {
        var result = new Struct();
        foreach (var property in element.EnumerateObject())
        {
            result.Fields[property.Name] = ToValue(property.Value);
        }

        return result;
    }

    private static Value ToValue(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.String => Value.ForString(element.GetString()!),
        JsonValueKind.Number => Value.ForNumber(element.GetDouble()),
        JsonValueKind.True => Value.ForBool(true),
        JsonValueKind.False => Value.ForBool(false),
        JsonValueKind.Object => Value.ForStruct(ToStruct(element)),
        JsonValueKind.Array => Value.ForList([.. element.EnumerateArray().Select(ToValue)]),
        _ => Value.ForNull(),
    };
}
