using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using k8s;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.Testing.Kubernetes;

/// <summary>
/// An in-process Kubernetes API server for tests: Kestrel on 127.0.0.1 (port 0) with TLS from a self-signed
/// certificate, speaking the real REST and list/watch JSON: discovery (<c>/api</c>, <c>/apis</c>, <c>/api/v1</c>,
/// <c>/apis/group/version</c>), list (with <c>limit</c>/<c>continue</c> and selectors), watch (chunked JSON lines with
/// ADDED/MODIFIED/DELETED/BOOKMARK/ERROR, resume from a resourceVersion, 410 Gone once compacted), create, update with
/// optimistic concurrency (409), merge patch, delete, <c>/status</c> subresources. Types can be made missing (a CRD
/// that is not installed: 404) or forbidden (403); mutating admission webhooks (<see cref="Admission"/>) and review kinds
/// answered by a handler (<see cref="SetCreateHandler"/>). KubernetesClient and <c>kubectl</c> both work against it.
/// </summary>
public sealed class FakeKubernetesApiServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<FakeResourceType, bool> _missing = new();
    private readonly ConcurrentDictionary<FakeResourceType, bool> _forbidden = new();
    private readonly ConcurrentQueue<string> _requests = new();
    private readonly ConcurrentDictionary<FakeResourceType, Func<JsonObject, JsonObject>> _createHandlers = new();
    private readonly CancellationTokenSource _stopping = new();

    private FakeKubernetesApiServer(WebApplication app, FakeResourceStore store, X509Certificate2 certificate)
    {
        _app = app;
        Store = store;
        Certificate = certificate;
        Admission = new FakeAdmission(store);
    }

    /// <summary>Mutating admission webhooks, called for every object created through the API.</summary>
    public FakeAdmission Admission { get; }

    /// <summary>The objects, and the hooks that expire or drop watches.</summary>
    public FakeResourceStore Store { get; private set; }

    /// <summary>The server's self-signed certificate, which is also its CA.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>The address, like <c>https://127.0.0.1:40123</c>.</summary>
    public Uri Address { get; private set; } = null!;

    /// <summary>How often an open watch that asked for bookmarks gets one. Default 1 s.</summary>
    public TimeSpan BookmarkInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Every request so far, as <c>METHOD path?query</c>.</summary>
    public IReadOnlyList<string> Requests => [.. _requests];

    /// <summary>Starts a server holding <paramref name="types"/> (default <see cref="FakeResourceType.Defaults"/>).</summary>
    public static async Task<FakeKubernetesApiServer> StartAsync(IEnumerable<FakeResourceType>? types = null)
    {
        var certificate = CreateCertificate();
        var store = new FakeResourceStore(types ?? FakeResourceType.Defaults);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, listen =>
        {
            listen.Protocols = HttpProtocols.Http1AndHttp2;
            listen.UseHttps(certificate);
        }));
        var app = builder.Build();
        var server = new FakeKubernetesApiServer(app, store, certificate);
        app.Run(server.HandleAsync);
        await app.StartAsync().ConfigureAwait(false);
        server.Address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        return server;
    }

    /// <summary>Finds a served type by apiVersion and kind.</summary>
    public FakeResourceType TypeOf(string apiVersion, string kind) => Store.TypeOf(apiVersion, kind);

    /// <summary>Makes a type missing (404 everywhere, absent from discovery), as a CRD that is not installed; or installs it again.</summary>
    public void SetMissing(FakeResourceType type, bool missing = true) => Set(_missing, type, missing);

    /// <summary>Makes a type forbidden (403 on every request), as RBAC without the grant; or grants it again.</summary>
    public void SetForbidden(FakeResourceType type, bool forbidden = true) => Set(_forbidden, type, forbidden);

    /// <summary>
    /// Answers creates of <paramref name="type"/> with <paramref name="handler"/> instead of storing them, as the API
    /// server does for review kinds (TokenReview, SubjectAccessReview): the request body in, the object with its status out.
    /// </summary>
    public void SetCreateHandler(FakeResourceType type, Func<JsonObject, JsonObject> handler) => _createHandlers[type] = handler;

    /// <summary>A client configuration for KubernetesClient that trusts this server.</summary>
    public KubernetesClientConfiguration CreateClientConfiguration() => new()
    {
        Host = Address.ToString(),
        SslCaCerts = [X509CertificateLoader.LoadCertificate(Certificate.RawData)],
        AccessToken = "fake-token",
    };

    /// <summary>The text of a kubeconfig file pointing at this server with its CA, for kubectl and <c>--kubeconfig</c>.</summary>
    public string CreateKubeconfig(string @namespace = "default")
    {
        var ca = Convert.ToBase64String(Encoding.ASCII.GetBytes(Certificate.ExportCertificatePem()));
        return $"""
            apiVersion: v1
            kind: Config
            clusters:
            - name: fake
              cluster:
                server: {Address.ToString().TrimEnd('/')}
                certificate-authority-data: {ca}
            users:
            - name: fake
              user:
                token: fake-token
            contexts:
            - name: fake
              context:
                cluster: fake
                user: fake
                namespace: {@namespace}
            current-context: fake
            """;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        Store.DropWatches();
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
        _stopping.Dispose();
        Certificate.Dispose();
    }

    private static void Set(ConcurrentDictionary<FakeResourceType, bool> set, FakeResourceType type, bool on)
    {
        if (on)
        {
            set[type] = true;
        }
        else
        {
            set.TryRemove(type, out _);
        }
    }

    private static X509Certificate2 CreateCertificate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=fake-kube-apiserver", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyCertSign, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        san.AddDnsName("localhost");
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        using var created = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        return X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pkcs12), null);
    }

    // ---- requests ------------------------------------------------------------------------------------------

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        var path = (request.Path.Value ?? "/").TrimEnd('/');
        _requests.Enqueue(request.Method + " " + path + request.QueryString.Value);
        try
        {
            switch (path)
            {
                case "/version":
                    await WriteAsync(context, 200, new JsonObject
                    {
                        ["major"] = "1",
                        ["minor"] = "32",
                        ["gitVersion"] = "v1.32.0-mesh-fake",
                        ["gitCommit"] = "0000000000000000000000000000000000000000",
                        ["gitTreeState"] = "clean",
                        ["buildDate"] = "2026-01-01T00:00:00Z",
                        ["goVersion"] = "go1.23.0",
                        ["compiler"] = "gc",
                        ["platform"] = "linux/amd64",
                    }).ConfigureAwait(false);
                    return;
                case "/api":
                    await WriteAsync(context, 200, new JsonObject
                    {
                        ["kind"] = "APIVersions",
                        ["versions"] = new JsonArray("v1"),
                        ["serverAddressByClientCIDRs"] = new JsonArray(new JsonObject { ["clientCIDR"] = "0.0.0.0/0", ["serverAddress"] = Address.Authority }),
                    }).ConfigureAwait(false);
                    return;
                case "/apis":
                    await WriteAsync(context, 200, GroupList()).ConfigureAwait(false);
                    return;
            }

            var segments = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
            string group, version;
            ArraySegment<string> rest;
            if (segments.Length >= 2 && segments[0] == "api")
            {
                (group, version, rest) = (string.Empty, segments[1], segments[2..]);
            }
            else if (segments.Length >= 2 && segments[0] == "apis")
            {
                if (segments.Length == 2)
                {
                    var found = GroupList()["groups"]!.AsArray().FirstOrDefault(g => g!["name"]!.GetValue<string>() == segments[1]);
                    await (found is null ? WriteNotFoundAsync(context) : WriteAsync(context, 200, WithKind(found.DeepClone().AsObject(), "APIGroup"))).ConfigureAwait(false);
                    return;
                }

                (group, version, rest) = (segments[1], segments[2], segments[3..]);
            }
            else
            {
                await WriteNotFoundAsync(context).ConfigureAwait(false);
                return;
            }

            if (rest.Count == 0)
            {
                var resources = ResourceList(group, version);
                await (resources is null ? WriteNotFoundAsync(context) : WriteAsync(context, 200, resources)).ConfigureAwait(false);
                return;
            }

            string? ns = null;
            if (rest[0] == "namespaces" && rest.Count >= 3 && rest[2] != "status" && rest[2] != "finalize")
            {
                ns = rest[1];
                rest = rest[2..];
            }

            var type = Visible().FirstOrDefault(t => t.Group == group && t.Version == version && t.Plural == rest[0]);
            if (type is null || (type.Namespaced == false && ns is not null))
            {
                await WriteNotFoundAsync(context).ConfigureAwait(false);
                return;
            }

            if (_forbidden.ContainsKey(type))
            {
                var scope = ns is null ? "at the cluster scope" : $"in the namespace \"{ns}\"";
                throw new FakeApiException(403, "Forbidden",
                    $"{type.Plural}{(group.Length > 0 ? "." + group : string.Empty)} is forbidden: User \"system:serviceaccount:mesh-system:mesh-controlplane\" cannot {Verb(request)} resource \"{type.Plural}\" in API group \"{group}\" {scope}");
            }

            var name = rest.Count > 1 ? rest[1] : null;
            var subresource = rest.Count > 2 ? rest[2] : null;
            if (subresource is not null && (subresource != "status" || !type.HasStatus || rest.Count > 3))
            {
                await WriteNotFoundAsync(context).ConfigureAwait(false);
                return;
            }

            if (name is not null && type.Namespaced && ns is null)
            {
                await WriteNotFoundAsync(context).ConfigureAwait(false);
                return;
            }

            await HandleResourceAsync(context, type, ns, name, subresource == "status").ConfigureAwait(false);
        }
        catch (FakeApiException ex)
        {
            await WriteAsync(context, ex.Code, ex.ToStatus()).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is InvalidOperationException or FormatException or ArgumentException or KeyNotFoundException)
        {
            // A bug in the fake: answer it as the API server answers its own failures, with the reason visible to the test.
            await WriteAsync(context, 500, FakeApiException.Status(500, "InternalError", ex.ToString())).ConfigureAwait(false);
        }
    }

    private async Task HandleResourceAsync(HttpContext context, FakeResourceType type, string? ns, string? name, bool status)
    {
        var request = context.Request;
        var query = request.Query;
        switch (request.Method)
        {
            case "GET" when name is null && query["watch"] is ["true" or "1"]:
                await WatchAsync(context, type, ns).ConfigureAwait(false);
                return;
            case "GET" when name is null:
                await WriteAsync(context, 200, List(type, ns, query)).ConfigureAwait(false);
                return;
            case "GET":
                await WriteAsync(context, 200, Store.Read(type, ns, name)).ConfigureAwait(false);
                return;
            case "POST" when name is null && _createHandlers.TryGetValue(type, out var handler):
                await WriteAsync(context, 201, handler(await ReadBodyAsync(context).ConfigureAwait(false))).ConfigureAwait(false);
                return;
            case "POST" when name is null:
                var created = await Admission.AdmitAsync(type, ns, await ReadBodyAsync(context).ConfigureAwait(false), context.RequestAborted).ConfigureAwait(false);
                await WriteAsync(context, 201, Store.Create(type, ns, created)).ConfigureAwait(false);
                return;
            case "PUT" when name is not null:
                var body = await ReadBodyAsync(context).ConfigureAwait(false);
                if (body["metadata"]?["name"]?.GetValue<string>() is { } bodyName && bodyName != name)
                {
                    throw new FakeApiException(400, "BadRequest", $"the name of the object ({bodyName}) does not match the name on the URL ({name})");
                }

                await WriteAsync(context, 200, Store.Replace(type, ns, name, body, status)).ConfigureAwait(false);
                return;
            case "PATCH" when name is not null:
                var contentType = request.ContentType ?? string.Empty;
                if (!contentType.StartsWith("application/merge-patch+json", StringComparison.Ordinal)
                    && !contentType.StartsWith("application/strategic-merge-patch+json", StringComparison.Ordinal))
                {
                    throw new FakeApiException(415, "UnsupportedMediaType", $"the fake API server applies merge patches only, not '{contentType}'");
                }

                await WriteAsync(context, 200, Store.Patch(type, ns, name, await ReadBodyAsync(context).ConfigureAwait(false), status)).ConfigureAwait(false);
                return;
            case "DELETE" when name is not null:
                await WriteAsync(context, 200, Store.Remove(type, ns, name)).ConfigureAwait(false);
                return;
            default:
                throw new FakeApiException(405, "MethodNotAllowed", $"{request.Method} is not supported on this path");
        }
    }

    private JsonObject List(FakeResourceType type, string? ns, IQueryCollection query)
    {
        var selector = FakeSelector.Parse(query["labelSelector"], query["fieldSelector"]);
        var offset = 0;
        if (query["continue"] is [{ Length: > 0 } token])
        {
            var text = Encoding.UTF8.GetString(Convert.FromBase64String(token));
            offset = int.Parse(text, CultureInfo.InvariantCulture);
        }

        var limit = query["limit"] is [{ } limitText] && int.TryParse(limitText, CultureInfo.InvariantCulture, out var parsed) && parsed > 0 ? parsed : int.MaxValue;
        var (items, version, total) = Store.ListPage(type, ns, selector, offset, limit);
        var metadata = new JsonObject { ["resourceVersion"] = version.ToString(CultureInfo.InvariantCulture) };
        if (offset + items.Count < total)
        {
            metadata["continue"] = Convert.ToBase64String(Encoding.UTF8.GetBytes((offset + items.Count).ToString(CultureInfo.InvariantCulture)));
            metadata["remainingItemCount"] = total - offset - items.Count;
        }

        return new JsonObject
        {
            ["kind"] = type.Kind + "List",
            ["apiVersion"] = type.ApiVersion,
            ["metadata"] = metadata,
            ["items"] = new JsonArray([.. items]),
        };
    }

    private async Task WatchAsync(HttpContext context, FakeResourceType type, string? ns)
    {
        var query = context.Request.Query;
        var selector = FakeSelector.Parse(query["labelSelector"], query["fieldSelector"]);
        var watch = Store.OpenWatch(type, ns, selector, query["resourceVersion"]);
        using var lifetime = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, _stopping.Token);
        if (query["timeoutSeconds"] is [{ } seconds] && int.TryParse(seconds, CultureInfo.InvariantCulture, out var timeout) && timeout > 0)
        {
            lifetime.CancelAfter(TimeSpan.FromSeconds(timeout));
        }

        context.Response.StatusCode = 200;
        context.Response.ContentType = "application/json";
        await context.Response.StartAsync(lifetime.Token).ConfigureAwait(false);
        Task? bookmarks = null;
        if (query["allowWatchBookmarks"] is ["true" or "1"])
        {
            bookmarks = SendBookmarksAsync(watch, lifetime.Token);
        }

        try
        {
            while (await watch.Lines.WaitToReadAsync(lifetime.Token).ConfigureAwait(false))
            {
                while (watch.Lines.TryRead(out var line))
                {
                    await context.Response.Body.WriteAsync(Encoding.UTF8.GetBytes(line + "\n"), lifetime.Token).ConfigureAwait(false);
                }

                await context.Response.Body.FlushAsync(lifetime.Token).ConfigureAwait(false);
            }

            if (watch.Abort)
            {
                context.Abort();
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (IOException)
        {
        }
        finally
        {
            Store.CloseWatch(watch);
            await lifetime.CancelAsync().ConfigureAwait(false);
            if (bookmarks is not null)
            {
                await bookmarks.ConfigureAwait(false);
            }
        }
    }

    private async Task SendBookmarksAsync(FakeWatch watch, CancellationToken cancellationToken)
    {
        try
        {
            using var timer = new PeriodicTimer(BookmarkInterval);
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                Store.Bookmark(watch);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    // ---- discovery -----------------------------------------------------------------------------------------

    private IEnumerable<FakeResourceType> Visible() => Store.Types.Where(t => !_missing.ContainsKey(t));

    private JsonObject GroupList()
    {
        var groups = new JsonArray();
        foreach (var byGroup in Visible().Where(t => t.Group.Length > 0).GroupBy(t => t.Group).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var versions = new JsonArray();
            foreach (var v in byGroup.Select(t => t.Version).Distinct())
            {
                versions.Add(new JsonObject { ["groupVersion"] = byGroup.Key + "/" + v, ["version"] = v });
            }

            groups.Add(new JsonObject
            {
                ["name"] = byGroup.Key,
                ["versions"] = versions,
                ["preferredVersion"] = versions[0]!.DeepClone(),
            });
        }

        return new JsonObject { ["kind"] = "APIGroupList", ["apiVersion"] = "v1", ["groups"] = groups };
    }

    private JsonObject? ResourceList(string group, string version)
    {
        var types = Visible().Where(t => t.Group == group && t.Version == version).ToList();
        if (types.Count == 0)
        {
            return null;
        }

        var resources = new JsonArray();
        foreach (var type in types)
        {
            resources.Add(new JsonObject
            {
                ["name"] = type.Plural,
                ["singularName"] = type.Kind.ToLowerInvariant(),
                ["namespaced"] = type.Namespaced,
                ["kind"] = type.Kind,
                ["verbs"] = new JsonArray("create", "delete", "get", "list", "patch", "update", "watch"),
                ["shortNames"] = new JsonArray([.. type.ShortNames.Select(s => (JsonNode)s)]),
            });
            if (type.HasStatus)
            {
                resources.Add(new JsonObject
                {
                    ["name"] = type.Plural + "/status",
                    ["singularName"] = string.Empty,
                    ["namespaced"] = type.Namespaced,
                    ["kind"] = type.Kind,
                    ["verbs"] = new JsonArray("get", "patch", "update"),
                });
            }
        }

        return new JsonObject
        {
            ["kind"] = "APIResourceList",
            ["apiVersion"] = "v1",
            ["groupVersion"] = group.Length == 0 ? version : group + "/" + version,
            ["resources"] = resources,
        };
    }

    private static JsonObject WithKind(JsonObject item, string kind)
    {
        item["kind"] = kind;
        item["apiVersion"] = "v1";
        return item;
    }

    private static string Verb(HttpRequest request) => request.Method switch
    {
        "GET" when request.Query["watch"] is ["true" or "1"] => "watch",
        "GET" => "list",
        "POST" => "create",
        "PUT" => "update",
        "PATCH" => "patch",
        "DELETE" => "delete",
        _ => request.Method.ToLowerInvariant(),
    };

    private static async Task<JsonObject> ReadBodyAsync(HttpContext context)
    {
        try
        {
            return await JsonNode.ParseAsync(context.Request.Body).ConfigureAwait(false) as JsonObject
                ?? throw new FakeApiException(400, "BadRequest", "the body must be a JSON object");
        }
        catch (System.Text.Json.JsonException ex)
        {
            throw new FakeApiException(400, "BadRequest", "the body is not JSON: " + ex.Message);
        }
    }

    private static Task WriteNotFoundAsync(HttpContext context) =>
        WriteAsync(context, 404, FakeApiException.Status(404, "NotFound", "the server could not find the requested resource"));

    private static async Task WriteAsync(HttpContext context, int status, JsonObject body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(body.ToJsonString()).ConfigureAwait(false);
    }
}
