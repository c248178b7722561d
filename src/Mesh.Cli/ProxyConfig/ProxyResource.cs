using System.Text.Json.Nodes;

namespace Mesh.Cli.ProxyConfig;

/// <summary>One xDS resource a client holds (or was sent), with its content as proto3 JSON.</summary>
/// <param name="TypeUrl">The resource's type URL.</param>
/// <param name="Name">The resource name.</param>
/// <param name="Version">The version the client holds or was sent.</param>
/// <param name="Status">The client's status for it (ACKED, NACKED, REQUESTED, …), when the source knows it.</param>
/// <param name="Resource">The resource as proto3 JSON, when the source included it.</param>
internal sealed record ProxyResource(string TypeUrl, string Name, string? Version, string? Status, JsonNode? Resource);
