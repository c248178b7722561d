using System.ComponentModel;
using System.Diagnostics;

namespace Mesh.Cli;

/// <summary>Opens a URL in the user's browser, when the machine has a way to.</summary>
internal static class Browser
{
    /// <summary>Starts the platform's opener for <paramref name="url"/>; false when there is none or it failed.</summary>
    public static bool TryOpen(Uri url)
    {
        var opener = OperatingSystem.IsWindows() ? "explorer" : OperatingSystem.IsMacOS() ? "open" : "xdg-open";
        try
        {
            using var process = Process.Start(new ProcessStartInfo(opener, url.AbsoluteUri) { UseShellExecute = false, RedirectStandardError = true });
            return process is not null;
        }
        catch (Win32Exception)
        {
            return false;
        }
    }
}
