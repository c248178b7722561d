using System.Threading.Channels;

namespace Mesh.Testing.Kubernetes;

/// <summary>One open watch stream: the events still to be written to it, as JSON lines.</summary>
internal sealed class FakeWatch(FakeResourceType type, string? @namespace, FakeSelector selector)
{
    private readonly Channel<string> _lines = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true });

    public FakeResourceType Type { get; } = type;

    public string? Namespace { get; } = @namespace;

    public FakeSelector Selector { get; } = selector;

    public ChannelReader<string> Lines => _lines.Reader;

    public void Write(string line) => _lines.Writer.TryWrite(line);

    /// <summary>Whether the connection is to be reset rather than the stream ended cleanly.</summary>
    public bool Abort { get; private set; }

    /// <summary>Ends the stream once what is queued is written (or resets the connection): the server closing the watch.</summary>
    public void Close(bool abort = false)
    {
        Abort |= abort;
        _lines.Writer.TryComplete();
    }
}
