using System.Globalization;

namespace Mesh.Cli.Install;

/// <summary>What <c>mesh install</c> can be told: the profile, the revision, and the handful of <c>--set</c> values users change.</summary>
internal sealed record InstallSettings
{
    /// <summary>The <c>--set</c> keys, with what each means.</summary>
    public static readonly IReadOnlyDictionary<string, string> Keys = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["namespace"] = "the control plane's namespace (default mesh-system)",
        ["replicas"] = "control plane replicas (default 2; demo 1)",
        ["hub"] = "the image registry (default ghcr.io/mesh)",
        ["tag"] = "the image tag (default the tool's version)",
        ["image"] = "the whole image reference (overrides hub and tag)",
        ["trustDomain"] = "the trust domain of workload identities (default cluster.local)",
    };

    public string Profile { get; init; } = "default";

    public string? Revision { get; init; }

    public string Namespace { get; init; } = "mesh-system";

    public int Replicas { get; init; } = 2;

    public string Hub { get; init; } = "ghcr.io/mesh";

    public string Tag { get; init; } = "latest";

    public string? Image { get; init; }

    public string TrustDomain { get; init; } = "cluster.local";

    /// <summary>The control plane image.</summary>
    public string ImageReference => Image ?? $"{Hub}/mesh-controlplane:{Tag}";

    /// <summary>The name of the revision's objects: <c>mesh-controlplane</c>, or <c>mesh-controlplane-REV</c>.</summary>
    public string Name => Revision is null ? "mesh-controlplane" : $"mesh-controlplane-{Revision}";

    /// <summary>Applies a profile and <c>--set</c> values; throws a usage error naming a bad one.</summary>
    public static InstallSettings Create(string profile, string? revision, IEnumerable<string> sets, string defaultTag)
    {
        var settings = new InstallSettings { Profile = profile, Revision = revision, Tag = defaultTag, Replicas = profile == "demo" ? 1 : 2 };
        if (revision is not null && !IsDnsLabel(revision))
        {
            throw new CliException($"--revision: '{revision}' is not a valid revision (lower-case letters, digits and '-', at most 40).", CliException.Usage);
        }

        foreach (var set in sets)
        {
            var eq = set.IndexOf('=', StringComparison.Ordinal);
            var key = eq > 0 ? set[..eq] : set;
            var value = eq > 0 ? set[(eq + 1)..] : string.Empty;
            if (eq <= 0 || value.Length == 0)
            {
                throw new CliException($"--set: '{set}' is not key=value.", CliException.Usage);
            }

            settings = key switch
            {
                "namespace" when IsDnsLabel(value) => settings with { Namespace = value },
                "replicas" when int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n is > 0 and <= 100 => settings with { Replicas = n },
                "hub" => settings with { Hub = value.TrimEnd('/') },
                "tag" => settings with { Tag = value },
                "image" => settings with { Image = value },
                "trustDomain" => settings with { TrustDomain = value },
                _ when !Keys.ContainsKey(key) => throw new CliException($"--set: unknown key '{key}'; the keys are {string.Join(", ", Keys.Keys)}.", CliException.Usage),
                _ => throw new CliException($"--set: '{value}' is not a valid value for {key} ({Keys[key]}).", CliException.Usage),
            };
        }

        return settings;
    }

    private static bool IsDnsLabel(string value) =>
        value.Length is > 0 and <= 40 && value.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-') && value[0] != '-' && value[^1] != '-';
}
