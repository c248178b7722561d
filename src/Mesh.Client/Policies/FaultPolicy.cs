using Envoy.Extensions.Filters.Http.Fault.V3;
using Envoy.Type.V3;
using Grpc.Core;
using Mesh.Client.Routing;

namespace Mesh.Client.Policies;

/// <summary>
/// Fault injection for one route (gRFC A33): first a delay, then an abort, each drawn independently against its
/// percentage; header-controlled faults (<c>x-envoy-fault-*</c>) when configured; at most
/// <see cref="MaxActiveFaults"/> faults in progress at once.
/// </summary>
internal sealed class FaultPolicy
{
    public const string DelayHeader = "x-envoy-fault-delay-request";
    public const string DelayPercentageHeader = "x-envoy-fault-delay-request-percentage";
    public const string AbortHttpHeader = "x-envoy-fault-abort-request";
    public const string AbortGrpcHeader = "x-envoy-fault-abort-grpc-request";
    public const string AbortPercentageHeader = "x-envoy-fault-abort-request-percentage";

    private int _active;

    public TimeSpan? FixedDelay { get; private init; }
    public bool HeaderDelay { get; private init; }
    public uint DelayPerMillion { get; private init; }
    public StatusCode? AbortStatus { get; private init; }
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

    /// <summary>The status to abort this call with, if any; draws once.</summary>
    public Status? DrawAbort<THeaders>(THeaders headers)
        where THeaders : IRequestHeaders
    {
        var perMillion = AbortPerMillion;
        var code = AbortStatus;
        if (HeaderAbort)
        {
            if (headers.Get(AbortGrpcHeader) is { } grpc && int.TryParse(grpc, out var g) && g is >= 0 and <= 16)
            {
                code = (StatusCode)g;
            }
            else if (headers.Get(AbortHttpHeader) is { } http && int.TryParse(http, out var h) && h is >= 200 and < 600)
            {
                code = FromHttp(h);
            }
            else
            {
                return null;
            }

            perMillion = HeaderPercentage(headers.Get(AbortPercentageHeader), perMillion);
        }

        return code is { } c && Draw(perMillion) ? new Status(c, "RPC terminated due to fault injection") : null;
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
}
