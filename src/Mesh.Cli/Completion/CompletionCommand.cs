using System.CommandLine;

namespace Mesh.Cli.Completion;

/// <summary>
/// <c>mesh completion bash|zsh|pwsh</c>: prints a script that asks mesh itself for completions through
/// System.CommandLine's <c>[suggest:POSITION]</c> directive (the protocol dotnet-suggest uses), so completions always
/// match the installed version's commands, options and values.
/// </summary>
internal static class CompletionCommand
{
    private const string Bash = """
        # mesh shell completion for bash. Load it with: source <(mesh completion bash)
        _mesh_complete() {
            local line="${COMP_LINE#* }"
            local position=$(( COMP_POINT - ${#COMP_LINE} + ${#line} ))
            local IFS=$'\n'
            COMPREPLY=( $(compgen -W "$(mesh "[suggest:${position}]" "${line}" 2>/dev/null)" -- "${COMP_WORDS[COMP_CWORD]}") )
        }
        complete -o default -F _mesh_complete mesh
        """;

    private const string Zsh = """
        # mesh shell completion for zsh. Load it with: source <(mesh completion zsh)
        _mesh_complete() {
            local line="${BUFFER#* }"
            local position=$(( CURSOR - ${#BUFFER} + ${#line} ))
            local -a completions
            completions=("${(@f)$(mesh "[suggest:${position}]" "${line}" 2>/dev/null)}")
            compadd -- $completions
        }
        compdef _mesh_complete mesh
        """;

    private const string Pwsh = """
        # mesh shell completion for PowerShell. Load it with: mesh completion pwsh | Out-String | Invoke-Expression
        Register-ArgumentCompleter -Native -CommandName mesh -ScriptBlock {
            param($wordToComplete, $commandAst, $cursorPosition)
            $line = $commandAst.ToString()
            $space = $line.IndexOf(' ')
            $rest = if ($space -ge 0) { $line.Substring($space + 1) } else { '' }
            $position = $cursorPosition - $commandAst.Extent.StartOffset - ($line.Length - $rest.Length)
            mesh "[suggest:$position]" "$rest" 2>$null | ForEach-Object {
                [System.Management.Automation.CompletionResult]::new($_, $_, 'ParameterValue', $_)
            }
        }
        """;

    public static Command Create(GlobalOptions global)
    {
        var shell = new Argument<string>("shell") { Description = "The shell: bash, zsh or pwsh" };
        shell.AcceptOnlyFromAmong("bash", "zsh", "pwsh");
        var command = new Command("completion", "Print a shell completion script (bash, zsh, pwsh)") { shell };
        command.SetAction(result =>
        {
            global.Context.Out.WriteLine(result.GetValue(shell) switch
            {
                "zsh" => Zsh,
                "pwsh" => Pwsh,
                _ => Bash,
            });
            return 0;
        });
        return command;
    }
}
