namespace Entrupy.Device.Cli;

/// <summary>The process exit codes of <c>entrupy</c>; documented in docs/cli.md and stable for scripts.</summary>
public static class ExitCodes
{
    /// <summary>The command did what was asked (for compare/trace: a match was found).</summary>
    public const int Success = 0;

    /// <summary>compare or trace ran but found no match.</summary>
    public const int NoMatch = 1;

    /// <summary>Bad input: usage error, unreadable or missing file, invalid id, rejected capture, invalid manifest.</summary>
    public const int BadInput = 2;

    /// <summary>The server could not be reached (connection refused, DNS failure, timeout).</summary>
    public const int Unreachable = 3;

    /// <summary>The server answered with an error that is not the caller's input: 5xx, 429 after retries, unexpected answers.</summary>
    public const int ServerError = 4;

    /// <summary>The API key is missing, unknown, revoked or not allowed to do this (401/403).</summary>
    public const int AuthError = 5;

    /// <summary>The item (or authentication) does not exist for this tenant (404).</summary>
    public const int NotFound = 6;

    /// <summary>A batch finished but some of its lines failed (the report lists them).</summary>
    public const int PartialFailure = 7;

    /// <summary>Interrupted (Ctrl+C); a batch can be resumed by running it again.</summary>
    public const int Interrupted = 130;

    /// <summary>The name scripts see in <c>--json</c> output's <c>error.kind</c> for an exit code.</summary>
    public static string KindOf(int exitCode) => exitCode switch
    {
        Success => "ok",
        NoMatch => "no_match",
        BadInput => "bad_input",
        Unreachable => "unreachable",
        ServerError => "server_error",
        AuthError => "auth",
        NotFound => "not_found",
        PartialFailure => "partial_failure",
        Interrupted => "interrupted",
        _ => "error",
    };
}
