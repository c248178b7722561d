using Grpc.Core;
using Mesh.Client.Resources;

namespace Mesh.Client.LoadBalancing;

/// <summary>
/// Which priority of a cluster takes its calls, as gRPC's <c>priority</c> policy chooses (gRFC A56, used by A37's
/// cluster resolver): the highest priority whose endpoints are READY; one that is still connecting keeps the calls
/// (they wait) while its 10-second failover timer runs; one that failed passes them on to the next. When a higher
/// priority becomes READY again the calls go back to it. Each priority's state is the aggregate of its endpoints
/// as round robin reports it: READY if any is ready (and not ejected by outlier detection), else CONNECTING if any is
/// connecting or idle, else TRANSIENT_FAILURE (also when it has no endpoint).
/// </summary>
/// <remarks>
/// One per cluster and channel (or HttpClient target), kept across configuration and connectivity changes; the
/// owner calls <see cref="Choose"/> under its lock whenever it rebuilds the cluster's picker, and the callback given at
/// construction runs when a failover timer fires, so the owner rebuilds then too. Endpoints of every priority are
/// connected from the start (not lazily, as gRPC does), so a failover finds the next priority already connected.
/// </remarks>
internal sealed class PriorityFailover : IDisposable
{
    /// <summary>How long a connecting priority holds calls before the next is tried (gRFC A56).</summary>
    public static readonly TimeSpan FailoverTimeout = TimeSpan.FromSeconds(10);

    private readonly TimeProvider _time;
    private readonly Action _changed;
    private Child[] _children = [];
    private bool _disposed;

    /// <summary>Creates the chooser of one cluster.</summary>
    /// <param name="time">The clock of the failover timers.</param>
    /// <param name="changed">Called (on a timer thread) when a failover timer fires: the owner should choose again.</param>
    public PriorityFailover(TimeProvider time, Action changed)
    {
        _time = time;
        _changed = changed;
    }

    /// <summary>The state of one priority as its endpoints make it.</summary>
    public static ConnectivityState StateOf(IReadOnlyList<(LocalityResource Locality, ClusterMember[] Endpoints)> localities, uint priority)
    {
        var connecting = false;
        foreach (var (locality, members) in localities)
        {
            if (locality.Priority != priority)
            {
                continue;
            }

            foreach (var member in members)
            {
                var state = member.Endpoint.State;
                if (state == ConnectivityState.Ready && !member.IsEjected)
                {
                    return ConnectivityState.Ready;
                }

                connecting |= state is ConnectivityState.Connecting or ConnectivityState.Idle;
            }
        }

        return connecting ? ConnectivityState.Connecting : ConnectivityState.TransientFailure;
    }

    /// <summary>
    /// Chooses the priority that takes calls now, and reports its state: READY (pick in it), CONNECTING (calls wait)
    /// or TRANSIENT_FAILURE (calls fail). -1 when the cluster has no locality at all.
    /// </summary>
    public (int Priority, ConnectivityState State) Choose(IReadOnlyList<(LocalityResource Locality, ClusterMember[] Endpoints)> localities)
    {
        var count = 0;
        foreach (var (locality, _) in localities)
        {
            count = Math.Max(count, (int)locality.Priority + 1);
        }

        if (count == 0)
        {
            return (-1, ConnectivityState.TransientFailure);
        }

        Resize(count);
        var now = _time.GetTimestamp();
        for (var p = 0; p < count; p++)
        {
            _children[p].Observe(StateOf(localities, (uint)p), this, now);
        }

        for (var p = 0; p < count; p++)
        {
            var child = _children[p];
            if (!child.Created)
            {
                // A child is created when the choice first reaches it; its failover timer starts then.
                child.Created = true;
                if (child.State == ConnectivityState.Connecting)
                {
                    child.StartTimer(this, now);
                }
            }

            if (child.State == ConnectivityState.Ready || child.TimerPending(_time, now))
            {
                return (p, child.State);
            }
        }

        for (var p = 0; p < count; p++)
        {
            if (_children[p].State == ConnectivityState.Connecting)
            {
                return (p, ConnectivityState.Connecting);
            }
        }

        return (count - 1, _children[count - 1].State);
    }

    /// <summary>
    /// The choice without failover timers (a one-off picker, tests): the highest READY priority, else the first
    /// connecting one, else the last.
    /// </summary>
    public static (int Priority, ConnectivityState State) ChooseOnce(IReadOnlyList<(LocalityResource Locality, ClusterMember[] Endpoints)> localities)
    {
        var count = 0;
        foreach (var (locality, _) in localities)
        {
            count = Math.Max(count, (int)locality.Priority + 1);
        }

        var connecting = -1;
        for (var p = 0; p < count; p++)
        {
            var state = StateOf(localities, (uint)p);
            if (state == ConnectivityState.Ready)
            {
                return (p, state);
            }

            if (state == ConnectivityState.Connecting && connecting < 0)
            {
                connecting = p;
            }
        }

        return connecting >= 0 ? (connecting, ConnectivityState.Connecting) : (count - 1, ConnectivityState.TransientFailure);
    }

    private void Resize(int count)
    {
        if (_children.Length == count)
        {
            return;
        }

        var children = new Child[count];
        for (var i = 0; i < count; i++)
        {
            children[i] = i < _children.Length ? _children[i] : new Child();
        }

        for (var i = count; i < _children.Length; i++)
        {
            _children[i].StopTimer();
        }

        _children = children;
    }

    private void OnTimer()
    {
        if (!Volatile.Read(ref _disposed))
        {
            _changed();
        }
    }

    public void Dispose()
    {
        Volatile.Write(ref _disposed, true);
        foreach (var child in _children)
        {
            child.StopTimer();
        }
    }

    private sealed class Child
    {
        private ITimer? _timer;
        private long _started;

        // Whether READY (or IDLE) was reported more recently than TRANSIENT_FAILURE: a later CONNECTING restarts the timer.
        private bool _readySinceFailure = true;

        public bool Created { get; set; }

        public ConnectivityState State { get; private set; } = ConnectivityState.Connecting;

        public void Observe(ConnectivityState state, PriorityFailover owner, long now)
        {
            var previous = State;
            State = state;
            switch (state)
            {
                case ConnectivityState.Ready:
                    StopTimer();
                    _readySinceFailure = true;
                    break;
                case ConnectivityState.TransientFailure:
                    StopTimer();
                    _readySinceFailure = false;
                    break;
                case ConnectivityState.Connecting when previous != ConnectivityState.Connecting && Created && _readySinceFailure:
                    StartTimer(owner, now);
                    break;
            }
        }

        public void StartTimer(PriorityFailover owner, long now)
        {
            StopTimer();
            _started = now;
            _timer = owner._time.CreateTimer(static state => ((PriorityFailover)state!).OnTimer(), owner, FailoverTimeout, Timeout.InfiniteTimeSpan);
        }

        public bool TimerPending(TimeProvider time, long now) => _timer is not null && time.GetElapsedTime(_started, now) < FailoverTimeout;

        public void StopTimer()
        {
            _timer?.Dispose();
            _timer = null;
        }
    }
}
