namespace Mesh.ControlPlane.Security;

/// <summary>
/// Limits how fast certificates are issued per identity: a token bucket per SPIFFE ID, <see cref="Burst"/> deep and
/// refilled at <see cref="PerSecond"/>. A leaked or replayed join token (or a crash-looping workload) can then mint
/// only a trickle of certificates, while a whole deployment starting at once still gets its first ones.
/// </summary>
internal sealed class IssuanceRateLimiter(TimeProvider time)
{
    /// <summary>Certificates one identity may get at once: 50.</summary>
    public const int Burst = 50;

    /// <summary>Certificates one identity may get per second after the burst: 5.</summary>
    public const double PerSecond = 5;

    /// <summary>Identities tracked before full buckets are forgotten: 10,000.</summary>
    private const int MaxTracked = 10_000;

    private readonly Lock _lock = new();
    private readonly Dictionary<string, Bucket> _buckets = new(StringComparer.Ordinal);

    /// <summary>
    /// Takes one issuance for <paramref name="identity"/>; false when its bucket is empty, with how long until the next
    /// one is available, and whether this is the first refusal since the last success (worth a log line).
    /// </summary>
    public bool TryAcquire(string identity, out TimeSpan retryAfter, out bool firstRefusal)
    {
        var now = time.GetTimestamp();
        lock (_lock)
        {
            if (!_buckets.TryGetValue(identity, out var bucket))
            {
                if (_buckets.Count >= MaxTracked)
                {
                    Prune(now);
                }

                bucket = new Bucket { Tokens = Burst, Updated = now };
                _buckets[identity] = bucket;
            }

            bucket.Refill(now, time);
            if (bucket.Tokens >= 1)
            {
                bucket.Tokens--;
                bucket.Refusing = false;
                retryAfter = TimeSpan.Zero;
                firstRefusal = false;
                return true;
            }

            retryAfter = TimeSpan.FromSeconds((1 - bucket.Tokens) / PerSecond);
            firstRefusal = !bucket.Refusing;
            bucket.Refusing = true;
            return false;
        }
    }

    private void Prune(long now)
    {
        List<string>? full = null;
        foreach (var (identity, bucket) in _buckets)
        {
            bucket.Refill(now, time);
            if (bucket.Tokens >= Burst)
            {
                (full ??= []).Add(identity);
            }
        }

        if (full is not null)
        {
            foreach (var identity in full)
            {
                _buckets.Remove(identity);
            }
        }
    }

    private sealed class Bucket
    {
        public double Tokens { get; set; }

        public long Updated { get; set; }

        public bool Refusing { get; set; }

        public void Refill(long now, TimeProvider time)
        {
            Tokens = Math.Min(Burst, Tokens + (time.GetElapsedTime(Updated, now).TotalSeconds * PerSecond));
            Updated = now;
        }
    }
}
