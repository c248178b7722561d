using System.Diagnostics;

namespace Mesh.Client.Telemetry;

/// <summary>
/// One call as Istio counts it: istio-proxy records a request once, when the downstream request ends, with the final
/// response and the flags of everything that happened to it (faults, retries, drops) — not once per attempt. The
/// call's owner (the channel's <see cref="Policies.MeshCallHandler"/> for gRPC, <see cref="MeshCallTelemetryHandler"/>
/// for HttpClients; the picker itself for a call that fails its pick) starts it and makes it
/// <see cref="Current"/> for the call's flow; policies add flags; the transport handler reports each attempt; the last
/// attempt's outcome, with the flags, is recorded when both the call has ended and that attempt's response is read.
/// </summary>
/// <remarks>Its few fields are guarded by the object itself (no lock object per call); nothing outside locks it.</remarks>
internal sealed class ClientCallTelemetry
{
    private static readonly AsyncLocal<ClientCallTelemetry?> CurrentCall = new();

    private readonly long _start = Stopwatch.GetTimestamp();
    private IstioRequest? _last;
    private int _open;
    private bool _ended;
    private bool _recorded;
    private int? _finalGrpcStatus;
    private int? _finalHttpStatus;

    public ClientCallTelemetry(ClientTelemetry telemetry, string? authority, string protocol)
    {
        Telemetry = telemetry;
        Authority = authority;
        Protocol = protocol;
    }

    /// <summary>The call in progress on this flow, if an adapter started one.</summary>
    public static ClientCallTelemetry? Current
    {
        get => CurrentCall.Value;
        set => CurrentCall.Value = value;
    }

    public ClientTelemetry Telemetry { get; }

    public string? Authority { get; }

    public string Protocol { get; }

    /// <summary>The gRPC method (<c>/package.Service/Method</c>), for gRPC's <c>grpc.client.call.duration</c>.</summary>
    public string? Method { get; init; }

    /// <summary>The channel's target as A66 labels it (<c>xds:///host:port</c>), when the owner knows it already.</summary>
    public string? Target { get; init; }

    /// <summary>
    /// A call that has exactly one attempt (a route without policies): the transport handler measures the attempt and
    /// ends the call with it, as nothing above it tracks the call.
    /// </summary>
    public bool SingleAttempt { get; init; }

    /// <summary>Time since the call started.</summary>
    public TimeSpan Elapsed => Stopwatch.GetElapsedTime(_start);

    /// <summary>The cluster the picker chose for the call (null until known, or when no route matched).</summary>
    public string? Cluster { get; set; }

    /// <summary>Flags the call collected so far.</summary>
    public ResponseFlags Flags { get; private set; }

    /// <summary>Attempts that reached the transport.</summary>
    public int Attempts { get; private set; }

    /// <summary>Adds an Envoy response flag to the call (a policy's doing: fault, drop, retries exhausted, no route).</summary>
    public void AddFlag(ResponseFlags flag)
    {
        lock (this)
        {
            Flags |= flag;
        }

        // Faults, drops and exhausted retries are events on the caller's span (each attempt has its own span).
        if (flag != ResponseFlags.None && Activity.Current is { } activity)
        {
            activity.AddEvent(new ActivityEvent("mesh." + ResponseFlagsText.Of(flag)));
        }
    }

    /// <summary>An attempt reached the transport.</summary>
    public void AttemptStarted()
    {
        lock (this)
        {
            _open++;
            Attempts++;
        }
    }

    /// <summary>An attempt's response has been read (or it failed): it is the call's outcome unless another follows.</summary>
    public void AttemptEnded(IstioRequest attempt)
    {
        lock (this)
        {
            _open--;
            _last = attempt;
            if (!_ended || _open > 0)
            {
                return;
            }
        }

        RecordOnce();
    }

    /// <summary>
    /// The call ended with <paramref name="grpcStatus"/> (gRPC) or <paramref name="httpStatus"/> (HttpClient, local
    /// answers included). Records now, or when the last attempt's response has been read.
    /// </summary>
    public void End(int? grpcStatus, int? httpStatus)
    {
        lock (this)
        {
            _ended = true;
            _finalGrpcStatus = grpcStatus;
            _finalHttpStatus = httpStatus;
            if (_open > 0)
            {
                return;
            }
        }

        RecordOnce();
    }

    private void RecordOnce()
    {
        IstioRequest request;
        lock (this)
        {
            if (_recorded)
            {
                return;
            }

            _recorded = true;
            request = _last ?? NeverSent();
            request.Flags |= Flags;
            if (_finalGrpcStatus is { } grpc)
            {
                request.GrpcStatus = grpc;
                if (grpc == 4)
                {
                    request.Flags |= ResponseFlags.UpstreamRequestTimeout;
                }
            }

            if (_finalHttpStatus is { } http)
            {
                request.ResponseCode = http;
            }

            request.DurationMilliseconds = ClientTelemetry.ElapsedMilliseconds(_start);
        }

        if (!Telemetry.Options.Metrics)
        {
            return; // traced only: the call's flags went to its span
        }

        ClientTelemetry.Record(request);
        if (Method is not null && ClientTelemetry.Grpc.CallDuration is { Enabled: true } duration)
        {
            duration.Record(request.DurationMilliseconds / 1000, new System.Diagnostics.TagList
            {
                { GrpcMetrics.MethodTag, GrpcMetrics.Method(Method) },
                { GrpcMetrics.TargetTag, Target ?? "xds:///" + Authority },
                { GrpcMetrics.StatusTag, GrpcMetrics.StatusName(request.GrpcStatus) },
            });
        }
    }

    /// <summary>A call that never reached a server: response code 0, destination known only by its service.</summary>
    private IstioRequest NeverSent()
    {
        var request = Telemetry.NewRequest(Protocol);
        Telemetry.SetDestinationService(request, Cluster, Authority);
        return request;
    }
}
