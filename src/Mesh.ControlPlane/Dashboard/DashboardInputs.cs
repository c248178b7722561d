using Mesh.ControlPlane.Configuration;
using Mesh.ControlPlane.Model;

namespace Mesh.ControlPlane.Dashboard;

/// <summary>Everything one dashboard snapshot is built from.</summary>
/// <param name="Mesh">The mesh model being served.</param>
/// <param name="Errors">The errors of the latest rejected configuration update (the last good one keeps serving).</param>
/// <param name="Warnings">The warnings of the latest build.</param>
/// <param name="Clients">The xDS clients, connected and recently gone.</param>
/// <param name="Edges">The recent traffic of every edge the clients reported.</param>
/// <param name="Reports">Load reports received since start.</param>
/// <param name="LoadReporting">Whether the control plane asks clients for load reports.</param>
/// <param name="RateWindow">The window the rates are computed over.</param>
/// <param name="Now">The time of the snapshot.</param>
internal sealed record DashboardInputs(
    MeshSnapshot Mesh,
    IReadOnlyList<ConfigError> Errors,
    IReadOnlyList<ConfigError> Warnings,
    IReadOnlyList<DashboardClient> Clients,
    IReadOnlyList<EdgeRate> Edges,
    long Reports,
    bool LoadReporting,
    TimeSpan RateWindow,
    DateTimeOffset Now);
