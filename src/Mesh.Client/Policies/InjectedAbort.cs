using Grpc.Core;

namespace Mesh.Client.Policies;

/// <summary>A call aborted by fault injection (A33), with the status each call path answers with.</summary>
/// <param name="GrpcStatus">The status a gRPC call ends with.</param>
/// <param name="HttpStatus">The status an HttpClient request is answered with.</param>
internal readonly record struct InjectedAbort(StatusCode GrpcStatus, int HttpStatus);
