using System.CommandLine;

namespace Mesh.Cli;

/// <summary>The optional <c>workload</c> argument several commands take; a word that looks like an option is refused, not taken as a name.</summary>
internal static class WorkloadArgument
{
    public static Argument<string?> Create(string description)
    {
        var argument = new Argument<string?>("workload") { Description = description, Arity = ArgumentArity.ZeroOrOne };
        argument.Validators.Add(result =>
        {
            foreach (var token in result.Tokens)
            {
                if (token.Value.StartsWith('-'))
                {
                    result.AddError($"Unrecognized command or argument '{token.Value}'.");
                }
            }
        });
        return argument;
    }
}
