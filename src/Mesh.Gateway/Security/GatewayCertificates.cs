using System.Collections.Concurrent;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Mesh.Client.Resources;
using Microsoft.Extensions.Logging;

namespace Mesh.Gateway.Security;

/// <summary>
/// The certificates a gateway's listeners name, by their SDS names: <c>file-cert:&lt;cert&gt;~&lt;key&gt;</c> (a PEM
/// chain and key) and <c>file-root:&lt;ca&gt;</c> (PEM CA certificates), read from the files and read again when a
/// file changes. A file that does not parse is reported and the last good certificate keeps serving.
/// <c>kubernetes://</c> names (credentialName) are Secrets this gateway does not read; they fail with that reason.
/// </summary>
internal sealed partial class GatewayCertificates(TimeProvider time, ILogger<GatewayCertificates> logger)
{
    private const string FileCertificatePrefix = "file-cert:";
    private const string FileRootPrefix = "file-root:";
    private const string KubernetesPrefix = "kubernetes://";

    /// <summary>How often a served certificate's files are checked for changes, at most.</summary>
    private static readonly TimeSpan CheckInterval = TimeSpan.FromSeconds(1);

    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    /// <summary>Loads what <paramref name="tls"/> names; false with the reason when any of it cannot be served.</summary>
    public bool Preload(GatewayTlsResource tls, out string? error)
    {
        if (!TryGetServerCertificate(tls.CertificateName, out _, out error))
        {
            return false;
        }

        return tls.RootName is null || TryGetRoots(tls.RootName, out _, out error);
    }

    /// <summary>The certificate (with its chain) named <paramref name="name"/>, the last good one if the files went bad.</summary>
    public bool TryGetServerCertificate(string name, out SslStreamCertificateContext? context, out string? error)
    {
        var entry = Refresh(name, LoadServerCertificate);
        context = entry.Context;
        error = context is null ? entry.Error : null;
        return context is not null;
    }

    /// <summary>The CA certificates named <paramref name="name"/>, the last good ones if the file went bad.</summary>
    public bool TryGetRoots(string name, out X509Certificate2Collection? roots, out string? error)
    {
        var entry = Refresh(name, LoadRoots);
        roots = entry.Roots;
        error = roots is null ? entry.Error : null;
        return roots is not null;
    }

    private Entry Refresh(string name, Func<string, Entry, Entry> load)
    {
        var now = time.GetUtcNow();
        if (_entries.TryGetValue(name, out var entry) && now - entry.CheckedAt < CheckInterval)
        {
            return entry;
        }

        var updated = load(name, entry ?? new Entry());
        updated.CheckedAt = now;
        _entries[name] = updated;
        return updated;
    }

    private Entry LoadServerCertificate(string name, Entry previous)
    {
        var tilde = name.IndexOf('~', StringComparison.Ordinal);
        if (!name.StartsWith(FileCertificatePrefix, StringComparison.Ordinal) || tilde < 0)
        {
            return Failed(name, previous, Unsupported(name));
        }

        var certificatePath = name[FileCertificatePrefix.Length..tilde];
        var keyPath = name[(tilde + 1)..];
        var stamp = Stamp(certificatePath, keyPath);
        if (previous.Context is not null && stamp == previous.Stamp)
        {
            return previous;
        }

        try
        {
            var chain = new X509Certificate2Collection();
            chain.ImportFromPemFile(certificatePath);
            if (chain.Count == 0)
            {
                return Failed(name, previous, $"{certificatePath}: no PEM certificate in the file");
            }

            using var loaded = X509Certificate2.CreateFromPemFile(certificatePath, keyPath);

            // Exported and re-imported so the key is usable by SslStream on every platform.
            var leaf = X509CertificateLoader.LoadPkcs12(loaded.Export(X509ContentType.Pkcs12), null);
            var intermediates = new X509Certificate2Collection();
            for (var i = 1; i < chain.Count; i++)
            {
                intermediates.Add(chain[i]);
            }

            Log.Loaded(logger, name, leaf.Subject, leaf.NotAfter);
            return new Entry { Context = SslStreamCertificateContext.Create(leaf, intermediates, offline: true), Stamp = stamp };
        }
        catch (Exception ex) when (ex is CryptographicException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            return Failed(name, previous, $"{certificatePath} / {keyPath} do not hold a PEM certificate and its private key: {ex.Message}");
        }
    }

    private Entry LoadRoots(string name, Entry previous)
    {
        if (!name.StartsWith(FileRootPrefix, StringComparison.Ordinal))
        {
            return Failed(name, previous, Unsupported(name));
        }

        var path = name[FileRootPrefix.Length..];
        var stamp = Stamp(path, path);
        if (previous.Roots is not null && stamp == previous.Stamp)
        {
            return previous;
        }

        try
        {
            var roots = new X509Certificate2Collection();
            roots.ImportFromPemFile(path);
            if (roots.Count == 0)
            {
                return Failed(name, previous, $"{path}: no PEM certificate in the file");
            }

            Log.Loaded(logger, name, roots[0].Subject, roots[0].NotAfter);
            return new Entry { Roots = roots, Stamp = stamp };
        }
        catch (Exception ex) when (ex is CryptographicException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            return Failed(name, previous, $"{path} does not hold PEM CA certificates: {ex.Message}");
        }
    }

    private Entry Failed(string name, Entry previous, string error)
    {
        if (previous.Error != error)
        {
            Log.LoadFailed(logger, name, error, previous.Context is not null || previous.Roots is not null);
        }

        // The last good certificate keeps serving; the error is kept for the next listener that names the files.
        return new Entry { Context = previous.Context, Roots = previous.Roots, Stamp = previous.Stamp, Error = error };
    }

    private static string Unsupported(string name) => name.StartsWith(KubernetesPrefix, StringComparison.Ordinal)
        ? $"'{name}' names a Kubernetes Secret (credentialName), which Mesh.Gateway does not read; mount it and use serverCertificate and privateKey"
        : $"'{name}' is not a certificate name Mesh.Gateway knows (file-cert:<cert>~<key>, file-root:<ca>)";

    private static string Stamp(string first, string second)
    {
        static string Of(string path) => File.Exists(path) ? File.GetLastWriteTimeUtc(path).Ticks.ToString(System.Globalization.CultureInfo.InvariantCulture) + "/" + new FileInfo(path).Length.ToString(System.Globalization.CultureInfo.InvariantCulture) : "missing";
        return Of(first) + "|" + Of(second);
    }

    private sealed class Entry
    {
        public SslStreamCertificateContext? Context { get; init; }

        public X509Certificate2Collection? Roots { get; init; }

        public string? Stamp { get; init; }

        public string? Error { get; init; }

        public DateTimeOffset CheckedAt { get; set; }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Gateway certificate {Name} loaded: {Subject}, valid until {NotAfter}.")]
        public static partial void Loaded(ILogger logger, string name, string subject, DateTime notAfter);

        [LoggerMessage(2, LogLevel.Error, "Gateway certificate {Name} cannot be loaded (a last good one keeps serving: {KeptLastGood}): {Reason}")]
        public static partial void LoadFailed(ILogger logger, string name, string reason, bool keptLastGood);
    }
}
