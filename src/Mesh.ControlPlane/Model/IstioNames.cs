namespace Mesh.ControlPlane.Model;

/// <summary>
/// The name rules Istio and Kubernetes apply: resource names are DNS-1123 subdomains, namespaces DNS-1123 labels,
/// and hosts DNS names whose labels are ASCII letters, digits and '-' (with an optional leading <c>*</c> wildcard).
/// Anything else — emoji, right-to-left marks, zero-width characters, '/' — is rejected with the reason.
/// </summary>
public static class IstioNames
{
    /// <summary>Why <paramref name="name"/> is not a DNS-1123 subdomain (a resource name), or null when it is one.</summary>
    public static string? CheckResourceName(string name)
    {
        if (name.Length is 0 or > 253)
        {
            return "must be 1 to 253 characters long";
        }

        foreach (var label in name.Split('.'))
        {
            if (CheckLabel(label, lowerCaseOnly: true) is { } problem)
            {
                return $"'{Printable(name)}' is not a DNS-1123 subdomain (lower-case letters, digits, '-' and '.', starting and ending with a letter or digit): {problem}";
            }
        }

        return null;
    }

    /// <summary>Why <paramref name="name"/> is not a DNS-1123 label (a namespace), or null when it is one.</summary>
    public static string? CheckNamespace(string name) =>
        name.Length > 63 || CheckLabel(name, lowerCaseOnly: true) is not null
            ? $"'{Printable(name)}' is not a DNS-1123 label (at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit)"
            : null;

    /// <summary>Why <paramref name="host"/> is not a valid host (as Istio's ValidateWildcardDomain checks it), or null when it is one.</summary>
    public static string? CheckHost(string host, bool allowWildcard)
    {
        if (host.Length is 0 or > 255)
        {
            return "a host must be 1 to 255 characters long";
        }

        if (host == "*")
        {
            return allowWildcard ? null : "a wildcard host is not allowed here";
        }

        var rest = host;
        if (rest.StartsWith("*.", StringComparison.Ordinal))
        {
            if (!allowWildcard)
            {
                return "a wildcard host is not allowed here";
            }

            rest = rest[2..];
        }

        foreach (var label in rest.TrimEnd('.').Split('.'))
        {
            if (CheckLabel(label, lowerCaseOnly: false) is { } problem)
            {
                return $"'{Printable(host)}' is not a valid host name: {problem}";
            }
        }

        return null;
    }

    private static string? CheckLabel(string label, bool lowerCaseOnly)
    {
        if (label.Length == 0)
        {
            return "it has an empty label";
        }

        if (label.Length > 63)
        {
            return $"the label '{label}' is longer than 63 characters";
        }

        for (var i = 0; i < label.Length; i++)
        {
            var c = label[i];
            var ok = c is >= 'a' and <= 'z' or >= '0' and <= '9' or '-' || (!lowerCaseOnly && c is >= 'A' and <= 'Z');
            if (!ok)
            {
                return $"character {Describe(c)} at position {i + 1} of '{Printable(label)}' is not allowed";
            }
        }

        return label[0] == '-' || label[^1] == '-' ? $"the label '{label}' starts or ends with '-'" : null;
    }

    private static string Describe(char c) => char.IsAsciiLetterOrDigit(c) || (c is > ' ' and < (char)127)
        ? $"'{c}'"
        : $"U+{(int)c:X4}";

    /// <summary>The name with invisible and non-ASCII characters shown as U+XXXX, so a message never hides them.</summary>
    private static string Printable(string text)
    {
        var builder = new System.Text.StringBuilder(text.Length);
        foreach (var c in text)
        {
            if (c is > ' ' and < (char)127)
            {
                builder.Append(c);
            }
            else
            {
                builder.Append("U+").Append(((int)c).ToString("X4", System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        return builder.ToString();
    }
}
