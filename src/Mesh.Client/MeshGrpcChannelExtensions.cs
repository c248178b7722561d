using Grpc.Core;
using Grpc.Core.Interceptors;
using Mesh.Client.Policies;
using Microsoft.Extensions.DependencyInjection;

namespace Grpc.Net.Client;

/// <summary>Mesh policies for channels built by hand.</summary>
public static class MeshGrpcChannelExtensions
{
    /// <summary>
    /// A call invoker for an <c>xds:///</c> channel that applies the mesh's route policies (fault injection, route
    /// timeouts, retries) on top of its routing and balancing. Clients made with <c>AddGrpcClient</c> get this
    /// automatically; use it as <c>new Greeter.GreeterClient(channel.CreateMeshCallInvoker(services, "xds:///greeter:9080"))</c>
    /// with the address the channel was made for.
    /// </summary>
    public static CallInvoker CreateMeshCallInvoker(this GrpcChannel channel, IServiceProvider services, string address) =>
        channel.Intercept(services.GetRequiredService<MeshInterceptorFactory>().Create(new Uri(address)));
}
