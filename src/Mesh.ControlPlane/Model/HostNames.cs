namespace Mesh.ControlPlane.Model;

/// <summary>
/// How short host names are read. As in Istio, a name without dots (<c>reviews</c>) is in the namespace of
/// whoever wrote it; we also accept <c>reviews.default</c> and <c>reviews.default.svc</c>, as Kubernetes DNS does.
/// </summary>
public static class HostNames
{
    /// <summary>
    /// The fully qualified host <paramref name="name"/> stands for, as seen from <paramref name="fromNamespace"/>,
    /// among the hosts <paramref name="exists"/> knows; <see langword="null"/> when none.
    /// </summary>
    public static string? Resolve(string name, string fromNamespace, string clusterDomain, Func<string, bool> exists)
    {
        if (exists(name))
        {
            return name;
        }

        foreach (var candidate in Candidates(name, fromNamespace, clusterDomain))
        {
            if (exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>The fully qualified form of <paramref name="name"/> when it is a short Kubernetes name, else the name itself.</summary>
    public static string Qualify(string name, string fromNamespace, string clusterDomain)
    {
        foreach (var candidate in Candidates(name, fromNamespace, clusterDomain))
        {
            return candidate;
        }

        return name;
    }

    private static IEnumerable<string> Candidates(string name, string fromNamespace, string clusterDomain)
    {
        var dots = name.Count(c => c == '.');
        if (dots == 0)
        {
            yield return $"{name}.{fromNamespace}.svc.{clusterDomain}";
        }
        else if (dots == 1)
        {
            yield return $"{name}.svc.{clusterDomain}";
        }
        else if (dots == 2 && name.EndsWith(".svc", StringComparison.Ordinal))
        {
            yield return $"{name}.{clusterDomain}";
        }
    }

    /// <summary>Every name a client in the service's namespace may use for it, with and without the port.</summary>
    public static IEnumerable<string> Aliases(string host, string serviceNamespace, string clusterDomain)
    {
        yield return host;
        var suffix = $".{serviceNamespace}.svc.{clusterDomain}";
        if (host.EndsWith(suffix, StringComparison.Ordinal))
        {
            var shortName = host[..^suffix.Length];
            yield return shortName;
            yield return $"{shortName}.{serviceNamespace}";
            yield return $"{shortName}.{serviceNamespace}.svc";
        }
    }
}
