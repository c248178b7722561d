using System.Diagnostics;
using System.Globalization;

namespace Mesh.Client.Telemetry;

/// <summary>
/// The trace context headers Istio asks applications to propagate (istio.io distributed-tracing FAQ): W3C
/// <c>traceparent</c>/<c>tracestate</c>, Zipkin's B3 (<c>x-b3-*</c> and the single <c>b3</c> header), and Envoy's
/// <c>x-request-id</c>. Mesh reads them on the server and writes them on each client attempt, so a trace crosses
/// Mesh services and Envoy sidecars alike.
/// </summary>
internal static class TraceHeaders
{
    public const string TraceParent = "traceparent";
    public const string TraceState = "tracestate";
    public const string B3 = "b3";
    public const string B3TraceId = "x-b3-traceid";
    public const string B3SpanId = "x-b3-spanid";
    public const string B3ParentSpanId = "x-b3-parentspanid";
    public const string B3Sampled = "x-b3-sampled";
    public const string RequestId = "x-request-id";

    private static readonly AsyncLocal<string?> CurrentRequestId = new();

    /// <summary>The <c>x-request-id</c> of the request being served on this flow (set by Mesh.Server), propagated to outgoing calls.</summary>
    public static string? CurrentRequest
    {
        get => CurrentRequestId.Value;
        set => CurrentRequestId.Value = value;
    }

    /// <summary>Writes the context of <paramref name="context"/> as W3C and B3 headers (those the request does not carry yet) and x-request-id.</summary>
    public static void Inject(HttpRequestMessage request, in ActivityContext context, string? parentSpanId, string requestId)
    {
        var headers = request.Headers;
        if (!headers.Contains(RequestId))
        {
            headers.TryAddWithoutValidation(RequestId, requestId);
        }

        if (context.TraceId == default)
        {
            return;
        }

        var traceId = context.TraceId.ToHexString();
        var spanId = context.SpanId.ToHexString();
        var sampled = (context.TraceFlags & ActivityTraceFlags.Recorded) != 0 ? "1" : "0";
        if (!headers.Contains(TraceParent))
        {
            headers.TryAddWithoutValidation(TraceParent, "00-" + traceId + "-" + spanId + (sampled == "1" ? "-01" : "-00"));
            if (!string.IsNullOrEmpty(context.TraceState))
            {
                headers.TryAddWithoutValidation(TraceState, context.TraceState);
            }
        }

        if (!headers.Contains(B3TraceId) && !headers.Contains(B3))
        {
            headers.TryAddWithoutValidation(B3TraceId, traceId);
            headers.TryAddWithoutValidation(B3SpanId, spanId);
            headers.TryAddWithoutValidation(B3Sampled, sampled);
            if (parentSpanId is not null)
            {
                headers.TryAddWithoutValidation(B3ParentSpanId, parentSpanId);
            }

            headers.TryAddWithoutValidation(B3, traceId + "-" + spanId + "-" + sampled);
        }
    }

    /// <summary>
    /// The caller's span context from W3C <c>traceparent</c>, else B3 (single or multi header). False when the request
    /// carries none or a malformed one.
    /// </summary>
    public static bool TryExtract(string? traceParent, string? traceState, string? b3, string? b3TraceId, string? b3SpanId, string? b3Sampled, out ActivityContext context)
    {
        if (traceParent is not null && ActivityContext.TryParse(traceParent, traceState, isRemote: true, out context))
        {
            return true;
        }

        if (b3 is not null)
        {
            var parts = b3.Split('-');
            if (parts.Length >= 2)
            {
                return TryFromB3(parts[0], parts[1], parts.Length > 2 ? parts[2] : null, out context);
            }
        }

        if (b3TraceId is not null && b3SpanId is not null)
        {
            return TryFromB3(b3TraceId, b3SpanId, b3Sampled, out context);
        }

        context = default;
        return false;
    }

    private static bool TryFromB3(string traceId, string spanId, string? sampled, out ActivityContext context)
    {
        context = default;
        if (traceId.Length == 16)
        {
            traceId = "0000000000000000" + traceId; // 64-bit B3 trace ids, left-padded as Zipkin does
        }

        if (traceId.Length != 32 || spanId.Length != 16 || !IsHex(traceId) || !IsHex(spanId))
        {
            return false;
        }

        var flags = sampled is "1" or "d" or "true" ? ActivityTraceFlags.Recorded : ActivityTraceFlags.None;
        context = new ActivityContext(ActivityTraceId.CreateFromString(traceId), ActivitySpanId.CreateFromString(spanId), flags, traceState: null, isRemote: true);
        return true;
    }

    private static bool IsHex(string text)
    {
        foreach (var c in text)
        {
            if (!char.IsAsciiHexDigit(c))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>A new request id, as Envoy makes them (a random UUID).</summary>
    public static string NewRequestId() => Guid.NewGuid().ToString("D", CultureInfo.InvariantCulture);
}
