namespace Mesh.ControlPlane.Model;

/// <summary>
/// Checks that a regular expression stays within RE2's syntax, which Envoy and gRPC clients compile (they NACK
/// anything else): no lookaround, no backreferences, no atomic groups, possessive quantifiers or conditionals.
/// </summary>
public static class Re2Syntax
{
    /// <summary>Why <paramref name="pattern"/> is not RE2 syntax, or null when it is.</summary>
    public static string? Check(string pattern)
    {
        var inClass = false;
        for (var i = 0; i < pattern.Length; i++)
        {
            var c = pattern[i];
            if (c == '\\')
            {
                if (i + 1 >= pattern.Length)
                {
                    return "it ends with a lone '\\'";
                }

                var next = pattern[i + 1];
                if (!inClass && next is >= '1' and <= '9')
                {
                    return $"backreferences (\\{next}) are not RE2 syntax";
                }

                if (!inClass && next == 'k' && i + 2 < pattern.Length && pattern[i + 2] is '<' or '{' or '\'')
                {
                    return "named backreferences (\\k<name>) are not RE2 syntax";
                }

                if (!inClass && next is 'G' or 'Z')
                {
                    return $"\\{next} is not RE2 syntax";
                }

                i++;
                continue;
            }

            if (inClass)
            {
                if (c == ']')
                {
                    inClass = false;
                }

                continue;
            }

            switch (c)
            {
                case '[':
                    inClass = true;

                    // A ']' right after '[' or '[^' is a literal.
                    if (i + 1 < pattern.Length && pattern[i + 1] == '^')
                    {
                        i++;
                    }

                    if (i + 1 < pattern.Length && pattern[i + 1] == ']')
                    {
                        i++;
                    }

                    break;
                case '(' when i + 2 < pattern.Length && pattern[i + 1] == '?':
                    var kind = pattern[i + 2];
                    if (kind is '=' or '!')
                    {
                        return "lookahead ((?=...), (?!...)) is not RE2 syntax";
                    }

                    if (kind == '<' && i + 3 < pattern.Length && pattern[i + 3] is '=' or '!')
                    {
                        return "lookbehind ((?<=...), (?<!...)) is not RE2 syntax";
                    }

                    if (kind == '>')
                    {
                        return "atomic groups ((?>...)) are not RE2 syntax";
                    }

                    if (kind == '(')
                    {
                        return "conditionals ((?(...)...)) are not RE2 syntax";
                    }

                    break;
                case '*' or '+' or '?' or '}' when i + 1 < pattern.Length && pattern[i + 1] == '+':
                    return "possessive quantifiers (*+, ++, ?+) are not RE2 syntax";
            }
        }

        return null;
    }
}
