using System.Net.Http.Headers;

namespace Mesh.Client.Xds;

/// <summary>
/// gRFC A97 <c>jwt_token_file</c> call credentials: each request (an ADS stream) carries <c>authorization: Bearer</c>
/// with the file's content, read again for every stream so a token the kubelet rotated is used at the next reconnect.
/// </summary>
internal sealed class BearerTokenFileHandler(string path) : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        string token;
        try
        {
            token = (await File.ReadAllTextAsync(path, cancellationToken).ConfigureAwait(false)).Trim();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new HttpRequestException($"the xDS call credentials' jwt_token_file '{path}' cannot be read: {ex.Message}", ex);
        }

        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
    }
}
