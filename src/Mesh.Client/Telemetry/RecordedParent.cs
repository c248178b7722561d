using System.Diagnostics;

namespace Mesh.Client.Telemetry;

/// <summary>
/// The parent of a Mesh client span: the nearest enclosing activity that someone records (recorded, and its source has
/// listeners). Grpc.Net.Client and HttpClient start activities of their own under the current one even when nobody
/// listens to them, only to propagate context; a span parented to one of those would point at a span no exporter
/// ever sends, and its trace would break at every hop. With no recorded ancestor, the current activity's context.
/// </summary>
internal static class RecordedParent
{
    public static ActivityContext Of(Activity? current)
    {
        for (var activity = current; activity is not null; activity = activity.Parent)
        {
            if (activity.Recorded && activity.Source.HasListeners())
            {
                return activity.Context;
            }
        }

        return current?.Context ?? default;
    }
}
