namespace Mesh.Fuzz;

/// <summary>The outcome of a bounded in-process fuzz run of one target.</summary>
internal sealed record MutationResult(string Target, int Executions, TimeSpan Elapsed, byte[]? CrashInput, Exception? Crash, TimeSpan Slowest, byte[] SlowestInput);
