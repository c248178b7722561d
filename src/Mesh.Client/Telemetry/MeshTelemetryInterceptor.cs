using Grpc.Core;
using Grpc.Core.Interceptors;

namespace Mesh.Client.Telemetry;

/// <summary>
/// Makes each unary call on a mesh channel one <see cref="ClientCallTelemetry"/>, the outermost layer, so the
/// policies below (faults, retries, the picker's drops) can flag it and it is counted once, as istio-proxy counts a
/// request. Streaming calls are counted by the transport handler, per attempt.
/// </summary>
internal sealed class MeshTelemetryInterceptor(ClientTelemetry telemetry, string? authority) : Interceptor
{
    public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(
        TRequest request,
        ClientInterceptorContext<TRequest, TResponse> context,
        AsyncUnaryCallContinuation<TRequest, TResponse> continuation)
    {
        var call = new ClientCallTelemetry(telemetry, authority, IstioLabels.Grpc) { Method = context.Method.FullName };
        var previous = ClientCallTelemetry.Current;
        ClientCallTelemetry.Current = call;
        AsyncUnaryCall<TResponse> inner;
        try
        {
            inner = continuation(request, context);
        }
        catch (RpcException ex)
        {
            call.End((int)ex.StatusCode, httpStatus: null);
            throw;
        }
        finally
        {
            ClientCallTelemetry.Current = previous;
        }

        return new AsyncUnaryCall<TResponse>(
            ObserveAsync(inner.ResponseAsync, call),
            inner.ResponseHeadersAsync,
            inner.GetStatus,
            inner.GetTrailers,
            inner.Dispose);
    }

    /// <summary>The xDS target of an <c>xds:///name</c> address (<c>name</c>, the call's authority), or null for another scheme.</summary>
    public static string? TargetOf(Uri? address)
    {
        if (address?.Scheme != "xds")
        {
            return null;
        }

        var name = address.AbsolutePath.TrimStart('/');
        return Uri.UnescapeDataString(string.IsNullOrEmpty(name) ? address.Authority : name);
    }

    private static async Task<TResponse> ObserveAsync<TResponse>(Task<TResponse> response, ClientCallTelemetry call)
    {
        try
        {
            var result = await response.ConfigureAwait(false);
            call.End(0, httpStatus: null);
            return result;
        }
        catch (RpcException ex)
        {
            call.End((int)ex.StatusCode, httpStatus: null);
            throw;
        }
    }
}
