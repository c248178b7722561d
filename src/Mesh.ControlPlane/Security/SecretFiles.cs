namespace Mesh.ControlPlane.Security;

/// <summary>
/// Writes and checks the CA directory's secret files. A secret is written to a temporary name created with owner-only
/// permissions (0600 on Unix, set by the create call itself, so the file is never readable by others, not even
/// briefly) and then renamed into place, so a reader never sees half a key.
/// </summary>
internal static class SecretFiles
{
    /// <summary>Owner read and write: 0600.</summary>
    public const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>Owner read, write and search: 0700.</summary>
    public const UnixFileMode OwnerOnlyDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    private const UnixFileMode GroupOrOther =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    /// <summary>Creates <paramref name="directory"/> (0700 on Unix) when it does not exist.</summary>
    public static void EnsureDirectory(string directory)
    {
        if (Directory.Exists(directory))
        {
            return;
        }

        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(directory);
        }
        else
        {
            Directory.CreateDirectory(directory, OwnerOnlyDirectory);
        }
    }

    /// <summary>
    /// Writes <paramref name="content"/> to <paramref name="path"/> unless it already exists. Returns false when another
    /// writer got there first (the caller then reads what it wrote).
    /// </summary>
    public static bool TryCreate(string path, ReadOnlySpan<byte> content, bool secret)
    {
        var temporary = path + "." + Guid.NewGuid().ToString("N") + ".tmp";
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (secret && !OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = OwnerOnly;
        }

        using (var stream = new FileStream(temporary, options))
        {
            stream.Write(content);
            stream.Flush(flushToDisk: true);
        }

        try
        {
            File.Move(temporary, path, overwrite: false);
            return true;
        }
        catch (IOException) when (File.Exists(path))
        {
            File.Delete(temporary);
            return false;
        }
    }

    /// <summary>Whether a directory's permissions let users other than its owner create, delete or rename entries (always false on Windows).</summary>
    public static bool IsWritableByOthers(string directory) =>
        !OperatingSystem.IsWindows() && (File.GetUnixFileMode(directory) & (UnixFileMode.GroupWrite | UnixFileMode.OtherWrite)) != 0;

    /// <summary>Whether a file's permissions let users other than its owner read or write it (always false on Windows).</summary>
    public static bool IsAccessibleByOthers(string path) =>
        !OperatingSystem.IsWindows() && (File.GetUnixFileMode(path) & GroupOrOther) != 0;
}
