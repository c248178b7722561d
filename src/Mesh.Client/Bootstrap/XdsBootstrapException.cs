namespace Mesh.Client.Bootstrap;

/// <summary>
/// The xDS bootstrap could not be found or is invalid. The message names where the bootstrap came from (a file path,
/// an environment variable, or <c>MeshClientOptions.BootstrapJson</c>) and every field that is wrong.
/// </summary>
public sealed class XdsBootstrapException : Exception
{
    /// <summary>Creates an exception with a default message.</summary>
    public XdsBootstrapException()
        : this("The xDS bootstrap is invalid.")
    {
    }

    /// <summary>Creates an exception with <paramref name="message"/>.</summary>
    /// <param name="message">What is wrong.</param>
    public XdsBootstrapException(string message)
        : base(message)
    {
        Errors = [message];
    }

    /// <summary>Creates an exception with <paramref name="message"/> caused by <paramref name="innerException"/>.</summary>
    /// <param name="message">What is wrong.</param>
    /// <param name="innerException">The cause.</param>
    public XdsBootstrapException(string message, Exception innerException)
        : base(message, innerException)
    {
        Errors = [message];
    }

    /// <summary>Creates an exception for the problems <paramref name="errors"/> found in the bootstrap from <paramref name="origin"/>.</summary>
    /// <param name="origin">Where the bootstrap came from, e.g. <c>file '/etc/mesh/bootstrap.json' (GRPC_XDS_BOOTSTRAP)</c>.</param>
    /// <param name="errors">Each problem, naming its field, e.g. <c>xds_servers[0].server_uri is required</c>.</param>
    /// <param name="innerException">The cause, if any.</param>
    public XdsBootstrapException(string origin, IReadOnlyList<string> errors, Exception? innerException = null)
        : base(Format(origin, errors), innerException)
    {
        ArgumentNullException.ThrowIfNull(errors);
        Origin = origin;
        Errors = errors;
    }

    /// <summary>Where the bootstrap came from, when it was found.</summary>
    public string? Origin { get; }

    /// <summary>Every problem found, each naming its field.</summary>
    public IReadOnlyList<string> Errors { get; }

    private static string Format(string origin, IReadOnlyList<string> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        return $"Invalid xDS bootstrap from {origin}: {string.Join("; ", errors)}";
    }
}
