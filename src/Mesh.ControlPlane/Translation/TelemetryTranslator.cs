using Envoy.Config.Listener.V3;
using Envoy.Type.V3;
using Google.Protobuf.WellKnownTypes;
using Mesh.ControlPlane.Model;
using Hcm = Envoy.Extensions.Filters.Network.HttpConnectionManager.V3;

namespace Mesh.ControlPlane.Translation;

/// <summary>
/// Carries a workload's Telemetry trace sampling to it, where istiod carries it to Envoy: the HTTP connection manager's
/// <c>tracing</c> (<c>random_sampling</c> the percentage, <c>client_sampling</c> and <c>overall_sampling</c> 100 %)
/// of every listener the workload is sent — its client (API) listeners with the outbound percentage, its server
/// listeners with the inbound one. Listeners of a workload no Telemetry sets sampling for are sent unchanged.
/// </summary>
public static class TelemetryTranslator
{
    /// <summary>
    /// <paramref name="listener"/> as <paramref name="workload"/> is sent it: with the sampling its Telemetry sets, or the
    /// same resource when none does.
    /// </summary>
    public static XdsResource Decorate(MeshSnapshot snapshot, XdsResource listener, ClientWorkload workload)
    {
        if (snapshot.Telemetries.IsEmpty || listener.Message is not Listener message)
        {
            return listener;
        }

        var server = message.ApiListener is null;
        if (TelemetryPolicy.Sampling(snapshot.Telemetries, workload.Namespace, workload.Labels, server) is not { } percent)
        {
            return listener;
        }

        var copy = message.Clone();
        if (!server)
        {
            copy.ApiListener.ApiListener_ = WithTracing(copy.ApiListener.ApiListener_, percent);
        }
        else
        {
            foreach (var chain in copy.FilterChains)
            {
                WithTracing(chain, percent);
            }

            if (copy.DefaultFilterChain is { } fallback)
            {
                WithTracing(fallback, percent);
            }
        }

        return new XdsResource(listener.Name, copy);
    }

    private static void WithTracing(FilterChain chain, double percent)
    {
        foreach (var filter in chain.Filters)
        {
            if (filter.TypedConfig is { } config && config.Is(Hcm.HttpConnectionManager.Descriptor))
            {
                filter.TypedConfig = WithTracing(config, percent);
            }
        }
    }

    private static Any WithTracing(Any packed, double percent)
    {
        if (!packed.Is(Hcm.HttpConnectionManager.Descriptor))
        {
            return packed;
        }

        var hcm = packed.Unpack<Hcm.HttpConnectionManager>();
        hcm.Tracing = new Hcm.HttpConnectionManager.Types.Tracing
        {
            ClientSampling = new Percent { Value = 100 },
            RandomSampling = new Percent { Value = percent },
            OverallSampling = new Percent { Value = 100 },
        };
        return Any.Pack(hcm);
    }
}
