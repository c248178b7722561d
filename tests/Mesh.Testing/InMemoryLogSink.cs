using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Mesh.Testing;

/// <summary>A logger provider that keeps every message, for tests that check what was logged.</summary>
public sealed class InMemoryLogSink : ILoggerProvider
{
    private readonly ConcurrentQueue<(LogLevel Level, string Category, string Message)> _entries = new();
    private readonly ConcurrentQueue<(LogLevel Level, string Category, Exception Exception)> _exceptions = new();

    /// <summary>Every entry so far.</summary>
    public IReadOnlyList<(LogLevel Level, string Category, string Message)> Entries => [.. _entries];

    /// <summary>The entries that carried an exception (a stack trace in a real log), with the exception.</summary>
    public IReadOnlyList<(LogLevel Level, string Category, Exception Exception)> Exceptions => [.. _exceptions];

    /// <summary>The messages at <paramref name="level"/> or above.</summary>
    public IEnumerable<string> MessagesAtLeast(LogLevel level) => _entries.Where(e => e.Level >= level).Select(e => e.Message);

    /// <inheritdoc />
    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    /// <inheritdoc />
    public void Dispose()
    {
    }

    private sealed class Logger(InMemoryLogSink sink, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            sink._entries.Enqueue((logLevel, category, formatter(state, exception)));
            if (exception is not null)
            {
                sink._exceptions.Enqueue((logLevel, category, exception));
            }
        }
    }
}
