using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Envoy.Service.Discovery.V3;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Mesh.Client.Bootstrap;
using Microsoft.Extensions.Logging;

namespace Mesh.Client.Xds;

/// <summary>
/// The persisted last-good configuration: every resource the client accepted, one file per resource type, so that a
/// client started while the control plane is unreachable can serve what it had.
/// </summary>
/// <remarks>
/// <para>
/// Layout: <c>{directory}/{type}.xdscache</c> (<c>listeners</c>, <c>routes</c>, <c>clusters</c>, <c>endpoints</c>; other
/// types by the last segment of their type URL). Each file is <c>MESHXDS1</c>, a 4-byte little-endian length and a
/// UTF-8 JSON header (format, node id, bootstrap fingerprint, type URL, version, saved-at), a 4-byte length and a
/// serialized <c>DeltaDiscoveryResponse</c> holding the named resources, then a SHA-256 of everything before it.
/// </para>
/// <para>
/// Writes are atomic: a temporary file in the same directory is written and flushed to disk (fsync), then renamed
/// over the old one. A file larger than <see cref="MaxFileBytes"/> is neither written nor read. A file whose
/// checksum, header or contents do not check out, or that another node or bootstrap wrote (the fingerprint covers
/// the node id, cluster and the xDS server URIs), is ignored with a warning; it is never trusted.
/// </para>
/// </remarks>
internal sealed partial class XdsResourceCache
{
    /// <summary>The environment variable naming the cache directory when the options do not.</summary>
    public const string EnvironmentVariable = "MESH_XDS_CACHE_DIR";

    /// <summary>The largest cache file written or read (16 MiB).</summary>
    public const long MaxFileBytes = 16 * 1024 * 1024;

    /// <summary>The file name suffix.</summary>
    public const string Extension = ".xdscache";

    private const string Format = "mesh-xds-cache/1";
    private static readonly byte[] Magic = "MESHXDS1"u8.ToArray();

    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly string _nodeId;

    /// <summary>Creates a cache over <paramref name="directory"/> (created when missing) for this bootstrap.</summary>
    public XdsResourceCache(string directory, XdsBootstrap bootstrap, TimeProvider time, ILogger logger)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentNullException.ThrowIfNull(bootstrap);
        Directory = Path.GetFullPath(directory);
        _time = time;
        _logger = logger;
        _nodeId = bootstrap.Node.Id;
        Fingerprint = ComputeFingerprint(bootstrap);
    }

    /// <summary>The directory.</summary>
    public string Directory { get; }

    /// <summary>Identifies the node and bootstrap whose files this cache trusts.</summary>
    public string Fingerprint { get; }

    /// <summary>Why files were ignored by the last <see cref="Load"/>, one line each.</summary>
    public IReadOnlyList<string> Problems { get; private set; } = [];

    /// <summary>The file of <paramref name="typeUrl"/>.</summary>
    public string PathOf(string typeUrl) => Path.Combine(Directory, FileStem(typeUrl) + Extension);

    /// <summary>Reads every cache file; a file that does not check out is skipped with a warning and a problem line.</summary>
    public IReadOnlyDictionary<string, XdsCachedType> Load()
    {
        var result = new Dictionary<string, XdsCachedType>(StringComparer.Ordinal);
        var problems = new List<string>();
        if (!System.IO.Directory.Exists(Directory))
        {
            Problems = problems;
            return result;
        }

        foreach (var path in System.IO.Directory.EnumerateFiles(Directory, "*" + Extension).Order(StringComparer.Ordinal))
        {
            if (TryRead(path, out var cached, out var problem))
            {
                result[cached!.TypeUrl] = cached;
                Log.CacheFileLoaded(_logger, path, cached.TypeUrl, cached.Version, cached.Resources.Count, cached.SavedAt);
            }
            else
            {
                problems.Add($"{path}: {problem}");
                Log.CacheFileIgnored(_logger, path, problem!);
            }
        }

        Problems = problems;
        return result;
    }

    /// <summary>Writes the resources of one type atomically; failures are logged, never thrown.</summary>
    public void Save(string typeUrl, string version, IReadOnlyList<(string Name, Any Resource)> resources)
    {
        var path = PathOf(typeUrl);
        var temporary = $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        try
        {
            var bytes = Serialize(typeUrl, version, resources);
            if (bytes.LongLength > MaxFileBytes)
            {
                Log.CacheFileTooLarge(_logger, path, bytes.LongLength, MaxFileBytes);
                return;
            }

            System.IO.Directory.CreateDirectory(Directory);
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                stream.Write(bytes);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Log.CacheWriteFailed(_logger, path, ex.Message);
            try
            {
                File.Delete(temporary);
            }
            catch (Exception cleanup) when (cleanup is IOException or UnauthorizedAccessException)
            {
                // Nothing more to do: the next save writes a new temporary file.
            }
        }
    }

    private byte[] Serialize(string typeUrl, string version, IReadOnlyList<(string Name, Any Resource)> resources)
    {
        var header = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, string>
        {
            ["format"] = Format,
            ["node"] = _nodeId,
            ["fingerprint"] = Fingerprint,
            ["typeUrl"] = typeUrl,
            ["version"] = version,
            ["savedAt"] = _time.GetUtcNow().ToString("O", System.Globalization.CultureInfo.InvariantCulture),
        });
        var body = new DeltaDiscoveryResponse { TypeUrl = typeUrl, SystemVersionInfo = version };
        foreach (var (name, resource) in resources)
        {
            body.Resources.Add(new Resource { Name = name, Version = version, Resource_ = resource });
        }

        var bodyBytes = body.ToByteArray();
        using var buffer = new MemoryStream();
        buffer.Write(Magic);
        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(length, header.Length);
        buffer.Write(length);
        buffer.Write(header);
        BinaryPrimitives.WriteInt32LittleEndian(length, bodyBytes.Length);
        buffer.Write(length);
        buffer.Write(bodyBytes);
        buffer.Write(SHA256.HashData(buffer.GetBuffer().AsSpan(0, (int)buffer.Length)));
        return buffer.ToArray();
    }

    private bool TryRead(string path, out XdsCachedType? cached, out string? problem)
    {
        cached = null;
        problem = null;
        byte[] bytes;
        try
        {
            var info = new FileInfo(path);
            if (info.Length > MaxFileBytes)
            {
                problem = $"{info.Length} bytes is over the {MaxFileBytes}-byte limit";
                return false;
            }

            bytes = File.ReadAllBytes(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            problem = "cannot be read: " + ex.Message;
            return false;
        }

        var span = bytes.AsSpan();
        if (span.Length < Magic.Length + 4 + 4 + 32 || !span[..Magic.Length].SequenceEqual(Magic))
        {
            problem = "corrupt: not a Mesh xDS cache file";
            return false;
        }

        var content = span[..^32];
        if (!SHA256.HashData(content).AsSpan().SequenceEqual(span[^32..]))
        {
            problem = "corrupt: the checksum does not match";
            return false;
        }

        var at = Magic.Length;
        var headerLength = BinaryPrimitives.ReadInt32LittleEndian(content[at..]);
        at += 4;
        if (headerLength < 0 || at + headerLength + 4 > content.Length)
        {
            problem = "corrupt: bad header length";
            return false;
        }

        Dictionary<string, string>? header;
        try
        {
            header = JsonSerializer.Deserialize<Dictionary<string, string>>(content.Slice(at, headerLength));
        }
        catch (JsonException ex)
        {
            problem = "corrupt: bad header: " + ex.Message;
            return false;
        }

        at += headerLength;
        var bodyLength = BinaryPrimitives.ReadInt32LittleEndian(content[at..]);
        at += 4;
        if (header is null || bodyLength < 0 || at + bodyLength != content.Length)
        {
            problem = "corrupt: bad body length";
            return false;
        }

        if (header.GetValueOrDefault("format") != Format)
        {
            problem = $"unknown format '{header.GetValueOrDefault("format")}'";
            return false;
        }

        if (header.GetValueOrDefault("fingerprint") != Fingerprint)
        {
            problem = $"written for another node or bootstrap (node '{header.GetValueOrDefault("node")}'; this one is '{_nodeId}')";
            return false;
        }

        DeltaDiscoveryResponse body;
        try
        {
            body = DeltaDiscoveryResponse.Parser.ParseFrom(content.Slice(at, bodyLength));
        }
        catch (InvalidProtocolBufferException ex)
        {
            problem = "corrupt: " + ex.Message;
            return false;
        }

        if (body.TypeUrl != header.GetValueOrDefault("typeUrl") || FileStem(body.TypeUrl) + Extension != Path.GetFileName(path))
        {
            problem = $"holds {body.TypeUrl}, which does not belong in this file";
            return false;
        }

        if (!DateTimeOffset.TryParse(header.GetValueOrDefault("savedAt"), System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.RoundtripKind, out var savedAt))
        {
            problem = "corrupt: bad savedAt";
            return false;
        }

        var resources = new Dictionary<string, Any>(StringComparer.Ordinal);
        foreach (var resource in body.Resources)
        {
            if (resource.Resource_ is { } any && resource.Name.Length > 0)
            {
                resources[resource.Name] = any;
            }
        }

        cached = new XdsCachedType(body.TypeUrl, body.SystemVersionInfo, savedAt, resources);
        return true;
    }

    private static string FileStem(string typeUrl) => typeUrl switch
    {
        Mesh.Xds.XdsTypeUrls.Listener => "listeners",
        Mesh.Xds.XdsTypeUrls.RouteConfiguration => "routes",
        Mesh.Xds.XdsTypeUrls.Cluster => "clusters",
        Mesh.Xds.XdsTypeUrls.ClusterLoadAssignment => "endpoints",
        _ => string.Concat(typeUrl[(typeUrl.LastIndexOf('/') + 1)..].Select(c => char.IsAsciiLetterOrDigit(c) || c == '.' ? c : '_')),
    };

    private static string ComputeFingerprint(XdsBootstrap bootstrap)
    {
        // A node id the bootstrap left out is made per process; then the machine stands for the node.
        var id = bootstrap.Node.Id == XdsNode.DefaultId() ? "default@" + Environment.MachineName : bootstrap.Node.Id;
        var text = new StringBuilder()
            .Append("node=").Append(id).Append('\n')
            .Append("cluster=").Append(bootstrap.Node.Cluster).Append('\n');
        foreach (var server in bootstrap.XdsServers)
        {
            text.Append("server=").Append(server.ServerUri).Append('\n');
        }

        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 60, Level = LogLevel.Information, Message = "xDS cache: loaded {Path} ({TypeUrl} version '{Version}', {Count} resources, saved at {SavedAt:O})")]
        public static partial void CacheFileLoaded(ILogger logger, string path, string typeUrl, string version, int count, DateTimeOffset savedAt);

        [LoggerMessage(EventId = 61, Level = LogLevel.Warning, Message = "xDS cache: ignoring {Path}: {Problem}")]
        public static partial void CacheFileIgnored(ILogger logger, string path, string problem);

        [LoggerMessage(EventId = 62, Level = LogLevel.Warning, Message = "xDS cache: not writing {Path}: {Size} bytes is over the {Limit}-byte limit")]
        public static partial void CacheFileTooLarge(ILogger logger, string path, long size, long limit);

        [LoggerMessage(EventId = 63, Level = LogLevel.Warning, Message = "xDS cache: writing {Path} failed: {Error}")]
        public static partial void CacheWriteFailed(ILogger logger, string path, string error);
    }
}

/// <summary>The cached resources of one type.</summary>
/// <param name="TypeUrl">The type.</param>
/// <param name="Version">The version they were accepted at.</param>
/// <param name="SavedAt">When the file was written.</param>
/// <param name="Resources">By name.</param>
internal sealed record XdsCachedType(string TypeUrl, string Version, DateTimeOffset SavedAt, IReadOnlyDictionary<string, Any> Resources);
