using System.Globalization;
using System.Text;

namespace Bookinfo.Launcher;

/// <summary>
/// The Prometheus configuration the launcher writes (<c>--prometheus-config</c>): one job scraping every service's
/// <c>/stats/prometheus</c> every second, each target labelled with its namespace and workload (the pod, on
/// Kubernetes). Start a Prometheus with it (<c>prometheus --config.file=FILE</c>) and Kiali's queries work against it.
/// </summary>
internal static class PrometheusConfiguration
{
    /// <summary>The configuration scraping <paramref name="targets"/> (workload, metrics URL).</summary>
    public static string Write(string @namespace, IReadOnlyList<(string Workload, Uri Url)> targets)
    {
        var yaml = new StringBuilder("""
            # Written by the Bookinfo launcher: where each service's metrics are (ports chosen at start). Use it as it is:
            #   prometheus --config.file=THIS_FILE
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            scrape_configs:
            - job_name: bookinfo
              scrape_interval: 1s
              scrape_timeout: 1s
              metrics_path: /stats/prometheus
              static_configs:

            """);
        foreach (var (workload, url) in targets)
        {
            yaml.Append(CultureInfo.InvariantCulture, $"  - targets: ['{url.Authority}']\n");
            yaml.Append(CultureInfo.InvariantCulture, $"    labels: {{namespace: {@namespace}, pod: {workload}}}\n");
        }

        return yaml.ToString();
    }
}
