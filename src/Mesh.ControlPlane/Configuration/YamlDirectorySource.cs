using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;

namespace Mesh.ControlPlane.Configuration;

/// <summary>
/// Reads every <c>*.yaml</c> and <c>*.yml</c> file below a directory, and watches it: any change to a file there
/// fires the change token, and the next read of <see cref="Current"/> reads the directory again.
/// </summary>
public sealed partial class YamlDirectorySource : IConfigSource, IDisposable
{
    private readonly string _directory;
    private readonly string _defaultNamespace;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private FileSystemWatcher? _watcher;
    private CancellationTokenSource _changed = new();
    private ConfigSet? _current;

    /// <summary>Creates a source for <paramref name="directory"/>; resources that name no namespace get <paramref name="defaultNamespace"/>.</summary>
    public YamlDirectorySource(string directory, string defaultNamespace, ILogger<YamlDirectorySource> logger)
    {
        _directory = Path.GetFullPath(directory);
        _defaultNamespace = defaultNamespace;
        _logger = logger;
    }

    /// <inheritdoc />
    public string Name => "yaml:" + _directory;

    /// <inheritdoc />
    public ConfigSet Current
    {
        get
        {
            lock (_lock)
            {
                return _current ??= ReadDirectory();
            }
        }
    }

    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (!Directory.Exists(_directory))
        {
            throw new DirectoryNotFoundException($"The configuration directory '{_directory}' does not exist.");
        }

        _watcher = new FileSystemWatcher(_directory)
        {
            IncludeSubdirectories = true,
            NotifyFilter = NotifyFilters.FileName | NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.DirectoryName,
        };
        _watcher.Changed += OnFileEvent;
        _watcher.Created += OnFileEvent;
        _watcher.Deleted += OnFileEvent;
        _watcher.Renamed += OnFileEvent;
        _watcher.Error += (_, e) => Log.WatchError(_logger, _directory, e.GetException());
        _watcher.EnableRaisingEvents = true;
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public IChangeToken GetChangeToken()
    {
        lock (_lock)
        {
            return new CancellationChangeToken(_changed.Token);
        }
    }

    private void OnFileEvent(object sender, FileSystemEventArgs e)
    {
        CancellationTokenSource fired;
        lock (_lock)
        {
            _current = null;
            fired = _changed;
            _changed = new CancellationTokenSource();
        }

        Log.FileChanged(_logger, e.FullPath);
        fired.Cancel();
        fired.Dispose();
    }

    private ConfigSet ReadDirectory()
    {
        var resources = new List<ConfigResource>();
        var errors = new List<ConfigError>();
        List<string> files;
        try
        {
            files = [.. Directory.EnumerateFiles(_directory, "*.*", SearchOption.AllDirectories)
                .Where(f => f.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".yml", StringComparison.OrdinalIgnoreCase))
                .Order(StringComparer.Ordinal)];
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // A directory that vanished or cannot be read is an error like any other: the last good snapshot stays.
            errors.Add(new ConfigError(_directory, null, null, "the configuration directory cannot be read: " + ex.Message));
            return new ConfigSet(resources, errors);
        }

        foreach (var file in files)
        {
            string text;
            try
            {
                text = File.ReadAllText(file);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                errors.Add(new ConfigError(file, null, null, "cannot be read: " + ex.Message));
                continue;
            }

            var set = YamlResourceReader.Read(text, Path.GetRelativePath(_directory, file), _defaultNamespace);
            resources.AddRange(set.Resources);
            errors.AddRange(set.Errors);
        }

        return new ConfigSet(resources, errors);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _watcher?.Dispose();
        _changed.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Debug, "Configuration file {Path} changed.")]
        public static partial void FileChanged(ILogger logger, string path);

        [LoggerMessage(2, LogLevel.Warning, "Watching {Directory} failed; changes may be missed until the next one.")]
        public static partial void WatchError(ILogger logger, string directory, Exception exception);
    }
}
