namespace Easel.Workers.Hosting;

/// <summary><c>dotnet Easel.Workers.dll [migrate] [--urls http://0.0.0.0:9091]</c>: see <see cref="WorkerHost"/>.</summary>
internal static class Program
{
    private static Task<int> Main(string[] args) => WorkerHost.RunAsync(args);
}
