using System.Collections.Concurrent;
using System.Net;
using Grpc.Core;
using Mesh.Samples.Tests.Tracing.Otlp;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.Samples.Tests.Tracing;

/// <summary>
/// An OTLP/gRPC trace collector on loopback that keeps every span it is sent in memory, with its service's name:
/// where the Bookinfo services export their spans (<c>OTEL_EXPORTER_OTLP_ENDPOINT</c>) in the tracing test.
/// </summary>
internal sealed class OtlpCollector : IAsyncDisposable
{
    private readonly WebApplication _app;

    private OtlpCollector(WebApplication app, Uri endpoint, ConcurrentQueue<CollectedSpan> spans)
    {
        _app = app;
        Endpoint = endpoint;
        Spans = spans;
    }

    /// <summary>The endpoint to export to, like <c>http://127.0.0.1:40123</c>.</summary>
    public Uri Endpoint { get; }

    /// <summary>Every span received so far.</summary>
    public ConcurrentQueue<CollectedSpan> Spans { get; }

    public static async Task<OtlpCollector> StartAsync()
    {
        var spans = new ConcurrentQueue<CollectedSpan>();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        builder.Services.AddSingleton(spans);
        var app = builder.Build();
        app.MapGrpcService<TraceReceiver>();
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new OtlpCollector(app, new Uri(address), spans);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private sealed class TraceReceiver(ConcurrentQueue<CollectedSpan> spans) : TraceService.TraceServiceBase
    {
        public override Task<ExportTraceServiceResponse> Export(ExportTraceServiceRequest request, ServerCallContext context)
        {
            foreach (var resource in request.ResourceSpans)
            {
                var service = resource.Resource?.Attributes.FirstOrDefault(a => a.Key == "service.name")?.Value?.StringValue ?? "";
                foreach (var scope in resource.ScopeSpans)
                {
                    foreach (var span in scope.Spans)
                    {
                        var tags = span.Attributes.ToDictionary(a => a.Key, a => Text(a.Value), StringComparer.Ordinal);
                        spans.Enqueue(new CollectedSpan(
                            service,
                            scope.Scope?.Name ?? "",
                            Convert.ToHexStringLower(span.TraceId.Span),
                            Convert.ToHexStringLower(span.SpanId.Span),
                            Convert.ToHexStringLower(span.ParentSpanId.Span),
                            span.Name,
                            span.Kind,
                            tags));
                    }
                }
            }

            return Task.FromResult(new ExportTraceServiceResponse());
        }

        private static string Text(AnyValue? value) => value?.ValueCase switch
        {
            AnyValue.ValueOneofCase.StringValue => value.StringValue,
            AnyValue.ValueOneofCase.IntValue => value.IntValue.ToString(System.Globalization.CultureInfo.InvariantCulture),
            AnyValue.ValueOneofCase.BoolValue => value.BoolValue ? "true" : "false",
            AnyValue.ValueOneofCase.DoubleValue => value.DoubleValue.ToString(System.Globalization.CultureInfo.InvariantCulture),
            _ => "",
        };
    }
}

/// <summary>One span as the collector received it.</summary>
internal sealed record CollectedSpan(
    string Service, string Scope, string TraceId, string SpanId, string ParentSpanId, string Name, Span.Types.SpanKind Kind, IReadOnlyDictionary<string, string> Tags)
{
    public string? Tag(string name) => Tags.TryGetValue(name, out var value) ? value : null;
}
