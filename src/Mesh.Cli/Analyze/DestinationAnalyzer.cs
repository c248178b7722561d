using Mesh.Cli.Output;

namespace Mesh.Cli.Analyze;

/// <summary>
/// IST0101 for what routes point at: a VirtualService destination host no service answers for, a subset no
/// DestinationRule for that host defines, and a DestinationRule whose host no service answers for.
/// </summary>
internal sealed class DestinationAnalyzer : IAnalyzer
{
    private static readonly string[] RouteKinds = ["http", "tcp", "tls"];

    public void Analyze(MeshIndex index, List<Diagnostic> findings)
    {
        foreach (var r in index.Resources)
        {
            if (r.Kind == "DestinationRule" && Json.Str(r.Body, "spec", "host") is { } drHost && !index.HasHost(MeshIndex.Canonical(drHost, r.Namespace)))
            {
                findings.Add(NotFound(r, "spec.host", "host", drHost));
            }

            if (r.Kind != "VirtualService")
            {
                continue;
            }

            foreach (var kind in RouteKinds)
            {
                var i = 0;
                foreach (var rule in Json.Items(r.Body, "spec", kind))
                {
                    var j = 0;
                    foreach (var route in Json.Items(rule, "route"))
                    {
                        var field = $"spec.{kind}[{i}].route[{j}].destination";
                        if (Json.Str(route, "destination", "host") is { } host)
                        {
                            var canonical = MeshIndex.Canonical(host, r.Namespace);
                            if (!index.HasHost(canonical))
                            {
                                findings.Add(NotFound(r, field + ".host", "host", host));
                            }
                            else if (Json.Str(route, "destination", "subset") is { Length: > 0 } subset && !index.HasSubset(canonical, subset))
                            {
                                findings.Add(NotFound(r, field + ".subset", "host+subset in destinationrule", $"{host}+{subset}"));
                            }
                        }

                        j++;
                    }

                    i++;
                }
            }
        }
    }

    private static Diagnostic NotFound(AnalyzedResource r, string field, string what, string value) =>
        new(DiagnosticLevel.Error, MessageCodes.ReferencedResourceNotFound.Code, MessageCodes.ReferencedResourceNotFound.Name, r.DisplayName, r.Origin, field, $"Referenced {what} not found: \"{value}\"");
}
