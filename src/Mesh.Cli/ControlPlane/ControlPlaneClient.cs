using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Mesh.Cli.ControlPlane;

/// <summary>
/// Reads the control plane's HTTP endpoints (<c>/debug/syncz</c>, <c>/debug/config_dump</c>, <c>/debug/configz</c>)
/// and turns every way that can fail into a <see cref="CliException"/> a user can act on.
/// </summary>
internal sealed class ControlPlaneClient : IDisposable
{
    private readonly HttpClient _http;

    public ControlPlaneClient(Uri baseAddress, TimeSpan timeout)
    {
        BaseAddress = baseAddress;
        _http = new HttpClient { BaseAddress = baseAddress, Timeout = timeout };
    }

    /// <summary>The control plane's HTTP base address.</summary>
    public Uri BaseAddress { get; }

    /// <summary>The hint printed with every "cannot reach" error.</summary>
    public static string ReachHint =>
        "Point mesh at it with --control-plane URL, the MESH_CONTROL_PLANE variable or controlPlane: in ~/.mesh/config.yaml; " +
        "in a cluster, first run: kubectl -n mesh-system port-forward deploy/mesh-controlplane 15014";

    /// <summary>GETs <paramref name="path"/> and parses its JSON; a 404 becomes null when <paramref name="notFoundIsNull"/>.</summary>
    public async Task<JsonNode?> GetJsonAsync(string path, CancellationToken cancellationToken, bool notFoundIsNull = false)
    {
        var (status, body) = await GetAsync(path, cancellationToken).ConfigureAwait(false);
        if (status == HttpStatusCode.NotFound && notFoundIsNull)
        {
            return null;
        }

        if (status != HttpStatusCode.OK)
        {
            throw new CliException($"the control plane at {BaseAddress} answered {(int)status} {status} for {path}: {body.Trim()}");
        }

        try
        {
            return JsonNode.Parse(body) ?? throw new CliException($"the control plane at {BaseAddress} returned an empty document for {path}.");
        }
        catch (JsonException ex)
        {
            throw new CliException($"the control plane at {BaseAddress} returned something that is not JSON for {path} (is this the control plane's HTTP port, 15014?): {ex.Message}", CliException.Failure, ex);
        }
    }

    /// <summary>GETs <paramref name="path"/>: the status and the body, whatever the status.</summary>
    public async Task<(HttpStatusCode Status, string Body)> GetAsync(string path, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await _http.GetAsync(path, cancellationToken).ConfigureAwait(false);
            var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            return (response.StatusCode, body);
        }
        catch (HttpRequestException ex)
        {
            var reason = ex.InnerException is SocketException socket ? socket.Message : ex.Message;
            throw new CliException($"cannot reach the control plane at {BaseAddress}: {reason}. {ReachHint}", CliException.Failure, ex);
        }
        catch (TaskCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new CliException($"the control plane at {BaseAddress} did not answer within {_http.Timeout.TotalSeconds:0} s. {ReachHint}", CliException.Failure, ex);
        }
    }

    /// <inheritdoc />
    public void Dispose() => _http.Dispose();
}
