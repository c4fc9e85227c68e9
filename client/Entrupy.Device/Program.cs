using Entrupy.Device.Cli;

// Ctrl+C cancels the command: a batch stops sending, keeps its journal and exits 130; a second Ctrl+C kills.
using var interrupt = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    if (interrupt.IsCancellationRequested) return;
    e.Cancel = true;
    interrupt.Cancel();
};
return await EntrupyCli.RunAsync(args, CliHost.FromConsole(), interrupt.Token);
