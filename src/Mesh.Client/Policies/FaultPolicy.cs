using Envoy.Extensions.Filters.Http.Fault.V3;
using Envoy.Type.V3;
using Grpc.Core;
using Mesh.Client.Routing;
using Mesh.Client.Telemetry;

namespace Mesh.Client.Policies;

/// <summary>
/// Fault injection for one route (gRFC A33): first a delay, then an abort, each drawn independently against its
/// percentage; header-controlled faults (<c>x-envoy-fault-*</c>) when configured; at most
/// <see cref="MaxActiveFaults"/> faults in progress at once. <see cref="ApplyAsync"/> is the one fault step both call
/// paths run (the gRPC channel's <c>MeshCallHandler</c> and the HttpClient's <c>MeshRoutingHandler</c>).
/// </summary>
internal sealed class FaultPolicy
{
    public const string DelayHeader = "x-envoy-fault-delay-request";
    public const string DelayPercentageHeader = "x-envoy-fault-delay-request-percentage";
    public const string AbortHttpHeader = "x-envoy-fault-abort-request";
    public const string AbortGrpcHeader = "x-envoy-fault-abort-grpc-request";
    public const string AbortPercentageHeader = "x-envoy-fault-abort-request-percentage";

    /// <summary>The message of a call aborted by fault injection (gRPC's wording).</summary>
    public const string AbortMessage = "RPC terminated due to fault injection";

    private int _active;

    public TimeSpan? FixedDelay { get; private init; }
    public bool HeaderDelay { get; private init; }
    public uint DelayPerMillion { get; private init; }
    public StatusCode? AbortStatus { get; private init; }

    /// <summary>The HTTP status of a configured abort: its http_status, or the HTTP mapping of its grpc_status.</summary>
    public int? AbortHttpStatus { get; private init; }
    public bool HeaderAbort { get; private init; }
    public uint AbortPerMillion { get; private init; }
    public uint? MaxActiveFaults { get; private init; }

    public bool IsEmpty => FixedDelay is null && !HeaderDelay && AbortStatus is null && !HeaderAbort;

    public static FaultPolicy? From(HTTPFault fault)
    {
        var policy = new FaultPolicy
        {
            FixedDelay = fault.Delay?.FixedDelay?.ToTimeSpan(),
            HeaderDelay = fault.Delay?.HeaderDelay is not null,
            DelayPerMillion = PerMillion(fault.Delay?.Percentage),
            AbortStatus = fault.Abort switch
            {
                null => null,
                { ErrorTypeCase: FaultAbort.ErrorTypeOneofCase.GrpcStatus } a => (StatusCode)a.GrpcStatus,
                { ErrorTypeCase: FaultAbort.ErrorTypeOneofCase.HttpStatus } a => FromHttp((int)a.HttpStatus),
                _ => null,
            },
            AbortHttpStatus = fault.Abort switch
            {
                null => null,
                { ErrorTypeCase: FaultAbort.ErrorTypeOneofCase.GrpcStatus } a => ToHttp((StatusCode)a.GrpcStatus),
                { ErrorTypeCase: FaultAbort.ErrorTypeOneofCase.HttpStatus } a => (int)a.HttpStatus,
                _ => null,
            },
            HeaderAbort = fault.Abort?.HeaderAbort is not null,
            AbortPerMillion = PerMillion(fault.Abort?.Percentage),
            MaxActiveFaults = fault.MaxActiveFaults,
        };
        return policy.IsEmpty ? null : policy;
    }

    /// <summary>The delay to apply to this call, if any; draws once.</summary>
    public TimeSpan? DrawDelay<THeaders>(THeaders headers)
        where THeaders : IRequestHeaders
    {
        var perMillion = DelayPerMillion;
        TimeSpan? delay = FixedDelay;
        if (HeaderDelay)
        {
            if (headers.Get(DelayHeader) is not { } text || !long.TryParse(text, out var ms) || ms < 0)
            {
                return null;
            }

            delay = TimeSpan.FromMilliseconds(ms);
            perMillion = HeaderPercentage(headers.Get(DelayPercentageHeader), perMillion);
        }

        return delay is { } d && Draw(perMillion) ? d : null;
    }

    /// <summary>
    /// The fault step of one call (A33): takes a slot among the active faults, waits the drawn delay (on
    /// <paramref name="time"/>, cancelled with the call), then draws the abort; flags the call's telemetry. Null when the
    /// call goes on to the server.
    /// </summary>
    public async ValueTask<InjectedAbort?> ApplyAsync<THeaders>(THeaders headers, TimeProvider time, CancellationToken cancellationToken)
        where THeaders : IRequestHeaders
    {
        if (!TryEnter())
        {
            return null;
        }

        try
        {
            if (DrawDelay(headers) is { } delay)
            {
                ClientCallTelemetry.Current?.AddFlag(ResponseFlags.DelayInjected);
                await Task.Delay(delay, time, cancellationToken).ConfigureAwait(false);
            }

            if (TryDrawAbort(headers, out var grpc, out var http))
            {
                ClientCallTelemetry.Current?.AddFlag(ResponseFlags.FaultInjected);
                return new InjectedAbort(grpc, http);
            }

            return null;
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>The status to abort this call with, if any; draws once.</summary>
    public Status? DrawAbort<THeaders>(THeaders headers)
        where THeaders : IRequestHeaders =>
        TryDrawAbort(headers, out var code, out _) ? new Status(code, AbortMessage) : null;

    /// <summary>Draws the abort once: true with its gRPC and HTTP statuses when this call is to be aborted.</summary>
    internal bool TryDrawAbort<THeaders>(THeaders headers, out StatusCode grpc, out int http)
        where THeaders : IRequestHeaders
    {
        var perMillion = AbortPerMillion;
        var configured = AbortStatus is not null;
        grpc = AbortStatus.GetValueOrDefault();
        http = AbortHttpStatus.GetValueOrDefault();
        if (HeaderAbort)
        {
            if (headers.Get(AbortGrpcHeader) is { } grpcText && int.TryParse(grpcText, out var g) && g is >= 0 and <= 16)
            {
                grpc = (StatusCode)g;
                http = ToHttp(grpc);
            }
            else if (headers.Get(AbortHttpHeader) is { } httpText && int.TryParse(httpText, out var h) && h is >= 200 and < 600)
            {
                grpc = FromHttp(h);
                http = h;
            }
            else
            {
                return false;
            }

            configured = true;
            perMillion = HeaderPercentage(headers.Get(AbortPercentageHeader), perMillion);
        }

        return configured && Draw(perMillion);
    }

    /// <summary>Takes a slot among the active faults; false when <see cref="MaxActiveFaults"/> are in progress.</summary>
    public bool TryEnter()
    {
        if (MaxActiveFaults is not { } max)
        {
            return true;
        }

        if (Interlocked.Increment(ref _active) > max)
        {
            Interlocked.Decrement(ref _active);
            return false;
        }

        return true;
    }

    public void Exit()
    {
        if (MaxActiveFaults is not null)
        {
            Interlocked.Decrement(ref _active);
        }
    }

    private static bool Draw(uint perMillion) => perMillion >= 1_000_000 || (uint)Random.Shared.Next(1_000_000) < perMillion;

    private static uint HeaderPercentage(string? text, uint configured) =>
        text is not null && uint.TryParse(text, out var percent) ? Math.Min(configured, percent * 10_000) : configured;

    private static uint PerMillion(FractionalPercent? percent) => percent is null ? 1_000_000 : percent.Denominator switch
    {
        FractionalPercent.Types.DenominatorType.Hundred => Math.Min(1_000_000, percent.Numerator * 10_000),
        FractionalPercent.Types.DenominatorType.TenThousand => Math.Min(1_000_000, percent.Numerator * 100),
        _ => Math.Min(1_000_000, percent.Numerator),
    };

    /// <summary>HTTP status to gRPC status, as gRPC maps a non-gRPC HTTP response.</summary>
    internal static StatusCode FromHttp(int status) => status switch
    {
        400 => StatusCode.Internal,
        401 => StatusCode.Unauthenticated,
        403 => StatusCode.PermissionDenied,
        404 => StatusCode.Unimplemented,
        429 or 502 or 503 or 504 => StatusCode.Unavailable,
        _ => StatusCode.Unknown,
    };

    /// <summary>
    /// gRPC status to the HTTP status an HttpClient caller gets for a gRPC-status abort (the gRPC-to-HTTP mapping of
    /// google.rpc.Code: UNAVAILABLE 503, DEADLINE_EXCEEDED 504, RESOURCE_EXHAUSTED 429, …; anything else 500).
    /// </summary>
    internal static int ToHttp(StatusCode status) => status switch
    {
        StatusCode.OK => 200,
        StatusCode.Cancelled => 499,
        StatusCode.InvalidArgument or StatusCode.FailedPrecondition or StatusCode.OutOfRange => 400,
        StatusCode.DeadlineExceeded => 504,
        StatusCode.NotFound => 404,
        StatusCode.AlreadyExists or StatusCode.Aborted => 409,
        StatusCode.PermissionDenied => 403,
        StatusCode.ResourceExhausted => 429,
        StatusCode.Unimplemented => 501,
        StatusCode.Unavailable => 503,
        StatusCode.Unauthenticated => 401,
        _ => 500,
    };
}
