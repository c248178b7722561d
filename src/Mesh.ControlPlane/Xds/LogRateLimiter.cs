namespace Mesh.ControlPlane.Xds;

/// <summary>
/// Lets at most <c>burst</c> log lines through per window and counts the rest, so a flood of similar events (every
/// client rejecting the same bad push, or one client NACKing in a loop) costs a bounded amount of log.
/// </summary>
internal sealed class LogRateLimiter(int burst, TimeSpan window, TimeProvider time)
{
    private readonly Lock _lock = new();
    private DateTimeOffset _windowStart = DateTimeOffset.MinValue;
    private int _inWindow;
    private long _suppressed;

    /// <summary>
    /// Whether to log now; when true, <paramref name="suppressed"/> is how many were dropped since the last one logged.
    /// </summary>
    public bool TryAcquire(out long suppressed)
    {
        var now = time.GetUtcNow();
        lock (_lock)
        {
            if (now - _windowStart >= window)
            {
                _windowStart = now;
                _inWindow = 0;
            }

            if (_inWindow < burst)
            {
                _inWindow++;
                suppressed = _suppressed;
                _suppressed = 0;
                return true;
            }

            _suppressed++;
            suppressed = 0;
            return false;
        }
    }

    /// <summary>Cuts <paramref name="text"/> to <paramref name="max"/> characters, saying how much was cut.</summary>
    public static string Truncate(string text, int max) =>
        text.Length <= max ? text : string.Concat(text.AsSpan(0, max), "… (", (text.Length - max).ToString(System.Globalization.CultureInfo.InvariantCulture), " more characters)");
}
