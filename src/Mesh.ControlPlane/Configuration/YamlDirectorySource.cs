using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;

namespace Mesh.ControlPlane.Configuration;

/// <summary>
/// Reads every <c>*.yaml</c> and <c>*.yml</c> file below a directory, and watches it: any change to a file there
/// fires the change token, and the next read of <see cref="Current"/> reads the directory again.
/// </summary>
/// <remarks>
/// <para>Entries whose names start with <c>..</c> are skipped, and symbolic links to directories are not followed:
/// that is the layout of a mounted Kubernetes ConfigMap (<c>..2024_01_01…/</c> holding the files, a <c>..data</c>
/// link to it, and a top-level link per file into <c>..data</c>), whose files are then read once each, through the
/// top-level links, and whose updates (a new <c>..&lt;timestamp&gt;</c> directory and an atomic swap of
/// <c>..data</c>) are followed.</para>
/// <para>The directory's parent is watched too: when the directory is deleted and created again (<c>rm -rf DIR;
/// mkdir DIR</c>), or the watch fails, the watch is re-established and the directory read again.</para>
/// </remarks>
public sealed partial class YamlDirectorySource : IConfigSource, IDisposable
{
    private readonly string _directory;
    private readonly string _defaultNamespace;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private FileSystemWatcher? _watcher;
    private FileSystemWatcher? _parentWatcher;
    private bool _disposed;
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

        if (Path.GetDirectoryName(_directory) is { } parent && Directory.Exists(parent))
        {
            // Sees the directory itself deleted, created or renamed, which a watch inside it cannot.
            _parentWatcher = new FileSystemWatcher(parent, Path.GetFileName(_directory))
            {
                NotifyFilter = NotifyFilters.DirectoryName,
            };
            _parentWatcher.Created += OnDirectoryReplaced;
            _parentWatcher.Deleted += OnDirectoryReplaced;
            _parentWatcher.Renamed += OnDirectoryReplaced;
            _parentWatcher.Error += (_, e) => Log.WatchError(_logger, parent, e.GetException());
            _parentWatcher.EnableRaisingEvents = true;
        }

        lock (_lock)
        {
            Watch();
        }

        return Task.CompletedTask;
    }

    /// <summary>(Re-)creates the watch on the directory, when it exists. Called under the lock.</summary>
    private void Watch()
    {
        _watcher?.Dispose();
        _watcher = null;
        if (_disposed || !Directory.Exists(_directory))
        {
            return;
        }

        var watcher = new FileSystemWatcher(_directory)
        {
            IncludeSubdirectories = true,
            NotifyFilter = NotifyFilters.FileName | NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.DirectoryName,
        };
        watcher.Changed += OnFileEvent;
        watcher.Created += OnFileEvent;
        watcher.Deleted += OnFileEvent;
        watcher.Renamed += OnFileEvent;
        watcher.Error += OnWatchError;
        try
        {
            watcher.EnableRaisingEvents = true;
            _watcher = watcher;
        }
        catch (Exception ex) when (ex is IOException or ArgumentException or UnauthorizedAccessException)
        {
            // Gone again between the check and the watch; the parent watch reports its return.
            watcher.Dispose();
            Log.WatchError(_logger, _directory, ex);
        }
    }

    private void OnWatchError(object sender, ErrorEventArgs e)
    {
        Log.WatchError(_logger, _directory, e.GetException());
        Rewatch();
    }

    private void OnDirectoryReplaced(object sender, FileSystemEventArgs e)
    {
        Log.DirectoryReplaced(_logger, _directory);
        Rewatch();
    }

    private void Rewatch()
    {
        lock (_lock)
        {
            Watch();
        }

        OnFileEvent(this, new FileSystemEventArgs(WatcherChangeTypes.All, _directory, null));
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
            if (_disposed)
            {
                return;
            }

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
            files = [.. EnumerateYamlFiles(_directory).Order(StringComparer.Ordinal)];
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

    /// <summary>
    /// The YAML files below <paramref name="directory"/>: no entry whose name starts with <c>..</c> (Kubernetes'
    /// ConfigMap internals), and no descent through a symbolic link to a directory (a link can point anywhere, or
    /// back up the tree).
    /// </summary>
    internal static IEnumerable<string> EnumerateYamlFiles(string directory) =>
        new System.IO.Enumeration.FileSystemEnumerable<string>(
            directory,
            static (ref System.IO.Enumeration.FileSystemEntry entry) => entry.ToFullPath(),
            new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0, IgnoreInaccessible = false })
        {
            ShouldIncludePredicate = static (ref System.IO.Enumeration.FileSystemEntry entry) =>
                !entry.IsDirectory && !entry.FileName.StartsWith("..", StringComparison.Ordinal)
                && (entry.FileName.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase) || entry.FileName.EndsWith(".yml", StringComparison.OrdinalIgnoreCase)),
            ShouldRecursePredicate = static (ref System.IO.Enumeration.FileSystemEntry entry) =>
                !entry.FileName.StartsWith("..", StringComparison.Ordinal) && (entry.Attributes & FileAttributes.ReparsePoint) == 0,
        };

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            _watcher?.Dispose();
            _parentWatcher?.Dispose();
        }

        _changed.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Debug, "Configuration file {Path} changed.")]
        public static partial void FileChanged(ILogger logger, string path);

        [LoggerMessage(2, LogLevel.Warning, "Watching {Directory} failed; watching it again.")]
        public static partial void WatchError(ILogger logger, string directory, Exception exception);

        [LoggerMessage(3, LogLevel.Information, "The configuration directory {Directory} was deleted, created or renamed; watching it again.")]
        public static partial void DirectoryReplaced(ILogger logger, string directory);
    }
}
