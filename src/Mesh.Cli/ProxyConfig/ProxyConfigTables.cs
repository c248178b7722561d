using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using Mesh.Cli.Output;

namespace Mesh.Cli.ProxyConfig;

/// <summary>The tables <c>mesh proxy-config</c> prints, one per kind, with istioctl's columns where they apply.</summary>
internal static class ProxyConfigTables
{
    /// <summary>The table of <paramref name="kind"/> (listeners, routes, clusters, endpoints, secrets).</summary>
    public static Table Build(string kind, IReadOnlyList<ProxyResource> resources) => kind switch
    {
        "listeners" => Listeners(resources),
        "routes" => Routes(resources),
        "clusters" => Clusters(resources),
        "endpoints" => Endpoints(resources),
        _ => Secrets(resources),
    };

    private static Table Listeners(IReadOnlyList<ProxyResource> resources)
    {
        var table = new Table("NAME", "TYPE", "ADDRESS", "DESTINATION");
        foreach (var r in resources)
        {
            var l = r.Resource;
            if (l is null)
            {
                table.Add(r.Name, "-", null, "(no longer in the configuration)");
                continue;
            }

            if (Json.At(l, "apiListener", "apiListener") is { } hcm)
            {
                var route = Json.Str(hcm, "rds", "routeConfigName");
                table.Add(r.Name, "API", null, route is null ? "Inline route" : "Route: " + route);
                continue;
            }

            var address = Json.Str(l, "address", "socketAddress", "address");
            var port = Json.Str(l, "address", "socketAddress", "portValue");
            var chains = Json.Items(l, "filterChains").Count();
            table.Add(r.Name, Json.Str(l, "trafficDirection") ?? "INBOUND", address is null ? null : $"{address}:{port ?? "0"}", $"{chains} filter chain{(chains == 1 ? string.Empty : "s")}");
        }

        return table;
    }

    private static Table Routes(IReadOnlyList<ProxyResource> resources)
    {
        var table = new Table("NAME", "VIRTUAL HOST", "DOMAINS", "MATCH", "DESTINATION");
        foreach (var r in resources)
        {
            foreach (var vhost in Json.Items(r.Resource, "virtualHosts"))
            {
                var domains = Json.Items(vhost, "domains").Select(d => d?.GetValue<string>()).OfType<string>().ToList();
                var domainText = domains.Count switch
                {
                    0 => "-",
                    1 => domains[0],
                    _ => $"{domains[0]} +{domains.Count - 1} more",
                };
                foreach (var route in Json.Items(vhost, "routes"))
                {
                    table.Add(r.Name, Json.Str(vhost, "name"), domainText, Match(route), Destination(route));
                }
            }
        }

        return table;
    }

    /// <summary>A route's match as istioctl writes it: <c>/*</c>, <c>/exact</c>, <c>/prefix*</c>, <c>~regex</c>, plus header conditions.</summary>
    public static string Match(JsonNode? route)
    {
        var match = Json.At(route, "match");
        var text = Json.Str(match, "path") ?? (Json.Str(match, "safeRegex", "regex") is { } regex ? "~" + regex : null)
            ?? (Json.Str(match, "prefix") is { } prefix ? (prefix is "" or "/" ? "/*" : prefix + "*") : "/*");
        var conditions = new List<string>();
        foreach (var header in Json.Items(match, "headers"))
        {
            var name = Json.Str(header, "name");
            var value = Json.Str(header, "stringMatch", "exact") ?? Json.Str(header, "exactMatch");
            if (value is not null)
            {
                conditions.Add($"{name}={value}");
            }
            else if ((Json.Str(header, "stringMatch", "prefix") ?? Json.Str(header, "prefixMatch")) is { } p)
            {
                conditions.Add($"{name}={p}*");
            }
            else if ((Json.Str(header, "stringMatch", "safeRegex", "regex") ?? Json.Str(header, "safeRegexMatch", "regex")) is { } re)
            {
                conditions.Add($"{name}~{re}");
            }
            else
            {
                conditions.Add(Json.Str(header, "invertMatch") == "true" ? "!" + name : name ?? "?");
            }
        }

        return conditions.Count == 0 ? text : $"{text} {string.Join(' ', conditions)}";
    }

    /// <summary>Where a route sends traffic: a cluster, weighted clusters with their shares, or a direct response.</summary>
    public static string Destination(JsonNode? route)
    {
        if (Json.Str(route, "route", "cluster") is { } cluster)
        {
            return cluster;
        }

        var weighted = Json.Items(route, "route", "weightedClusters", "clusters").ToList();
        if (weighted.Count > 0)
        {
            var total = weighted.Sum(c => Json.Int(c, "weight") ?? 0);
            return string.Join(", ", weighted.Select(c =>
                $"{Json.Str(c, "name")} {(total == 0 ? 0 : (Json.Int(c, "weight") ?? 0) * 100.0 / total).ToString("0.#", CultureInfo.InvariantCulture)}%"));
        }

        if (Json.At(route, "directResponse") is { } direct)
        {
            return "direct response " + (Json.Str(direct, "status") ?? "-");
        }

        return Json.At(route, "nonForwardingAction") is not null ? "non-forwarding" : "-";
    }

    private static Table Clusters(IReadOnlyList<ProxyResource> resources)
    {
        var table = new Table("SERVICE FQDN", "PORT", "SUBSET", "DIRECTION", "TYPE", "LB", "TLS");
        foreach (var r in resources)
        {
            var parts = r.Name.Split('|');
            var (direction, port, subset, host) = parts.Length == 4 ? (parts[0], parts[1], parts[2], parts[3]) : ("-", "-", "-", r.Name);
            var c = r.Resource;
            var type = Json.Str(c, "type") ?? (Json.At(c, "clusterType") is not null ? "AGGREGATE" : c is null ? null : "STATIC");
            var tls = Json.At(c, "transportSocket") is { } socket
                ? (Json.Str(socket, "typedConfig", "@type")?.EndsWith("UpstreamTlsContext", StringComparison.Ordinal) == true ? "mTLS" : Json.Str(socket, "name"))
                : c is null ? null : "plaintext";
            table.Add(host, port, subset.Length == 0 ? "-" : subset, direction, type, c is null ? null : Json.Str(c, "lbPolicy") ?? "ROUND_ROBIN", tls);
        }

        return table;
    }

    private static Table Endpoints(IReadOnlyList<ProxyResource> resources)
    {
        var table = new Table("ENDPOINT", "STATUS", "WEIGHT", "LOCALITY", "CLUSTER");
        foreach (var r in resources)
        {
            foreach (var group in Json.Items(r.Resource, "endpoints"))
            {
                var locality = string.Join('/', new[] { Json.Str(group, "locality", "region"), Json.Str(group, "locality", "zone"), Json.Str(group, "locality", "subZone") }.Where(s => !string.IsNullOrEmpty(s)));
                foreach (var lb in Json.Items(group, "lbEndpoints"))
                {
                    var address = Json.Str(lb, "endpoint", "address", "socketAddress", "address");
                    var port = Json.Str(lb, "endpoint", "address", "socketAddress", "portValue");
                    var health = Json.Str(lb, "healthStatus") is { } h && h != "UNKNOWN" ? h : "HEALTHY";
                    table.Add($"{address}:{port}", health, Json.Str(lb, "loadBalancingWeight") ?? "1", locality.Length == 0 ? "-" : locality, r.Name);
                }
            }
        }

        return table;
    }

    private static Table Secrets(IReadOnlyList<ProxyResource> resources)
    {
        var table = new Table("RESOURCE NAME", "TYPE", "STATUS", "SERIAL NUMBER", "NOT AFTER", "NOT BEFORE");
        foreach (var r in resources)
        {
            var s = r.Resource;
            var (type, source) = Json.At(s, "tlsCertificate") is { } cert ? ("Cert Chain", Json.At(cert, "certificateChain"))
                : Json.At(s, "validationContext") is { } ca ? ("CA", Json.At(ca, "trustedCa"))
                : ("-", null);
            var certificate = ReadCertificate(source);
            table.Add(r.Name, type, r.Status, certificate?.SerialNumber, certificate?.NotAfter.ToUniversalTime().ToString("u", CultureInfo.InvariantCulture), certificate?.NotBefore.ToUniversalTime().ToString("u", CultureInfo.InvariantCulture));
            certificate?.Dispose();
        }

        return table;
    }

    private static X509Certificate2? ReadCertificate(JsonNode? source)
    {
        try
        {
            var pem = Json.Str(source, "inlineString") ?? (Json.Str(source, "inlineBytes") is { } b64 ? Encoding.ASCII.GetString(Convert.FromBase64String(b64)) : null);
            if (Json.Str(source, "filename") is { } file && File.Exists(file))
            {
                pem = File.ReadAllText(file);
            }

            return pem is null ? null : X509Certificate2.CreateFromPem(pem);
        }
        catch (Exception ex) when (ex is CryptographicException or FormatException or IOException or ArgumentException)
        {
            return null;
        }
    }
}
