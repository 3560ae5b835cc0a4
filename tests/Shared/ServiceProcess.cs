using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
namespace Easel.Testing;

/// <summary>
/// One of the service's executables run as a real child process (<c>dotnet Easel.Api.dll</c> or <c>dotnet
/// Easel.Workers.dll</c> from the API's build output, as the container image lays them out), configured through
/// environment variables, listening on a free loopback port. Output is kept for the failure message. Used by the
/// two-process tests and by the service benchmark.
/// </summary>
public sealed class ServiceProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();

    private ServiceProcess(string name, Process process, Uri address)
    {
        Name = name;
        _process = process;
        Id = process.Id;
        Address = address;
        _process.OutputDataReceived += (_, e) => { if (e.Data is not null) _output.Enqueue(e.Data); };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) _output.Enqueue(e.Data); };
    }

    public string Name { get; }

    public Uri Address { get; }

    public int Id { get; }

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public IReadOnlyCollection<string> Output => _output;

    /// <summary>The folder that holds Easel.Api.dll, Easel.Workers.dll and their runtime files, built with this test.</summary>
    public static string BinariesFolder()
    {
        // tests/EndToEnd.Tests/bin/<Configuration>/<tfm>/ (or bench/…) → src/Api/bin/<Configuration>/<tfm>/
        var testOutput = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var folder = Path.Combine(TestPaths.RepositoryRoot(), "src", "Api", "bin", testOutput.Parent!.Name, testOutput.Name);
        if (!File.Exists(Path.Combine(folder, "Easel.Workers.dll")))
            throw new InvalidOperationException($"No Easel.Api/Easel.Workers build output in {folder}.");
        return folder;
    }

    public static async Task<ServiceProcess> StartAsync(string assembly, IReadOnlyDictionary<string, string> environment,
        TimeSpan? readyWithin = null)
    {
        var folder = BinariesFolder();
        var address = new Uri($"http://127.0.0.1:{FreePort()}");
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(folder, assembly));
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add(address.ToString().TrimEnd('/'));
        foreach (var (key, value) in environment)
            start.Environment[key] = value;
        var process = new ServiceProcess(Path.GetFileNameWithoutExtension(assembly), Process.Start(start)!, address);
        process._process.BeginOutputReadLine();
        process._process.BeginErrorReadLine();
        await process.WaitUntilReadyAsync(readyWithin ?? TimeSpan.FromSeconds(60));
        return process;
    }

    /// <summary>Runs an executable with <paramref name="arguments"/> (e.g. <c>Easel.Api.dll migrate</c>) to its end.</summary>
    public static async Task<(int ExitCode, string Output)> RunToExitAsync(string assembly, IReadOnlyList<string> arguments,
        IReadOnlyDictionary<string, string> environment, TimeSpan within)
    {
        var folder = BinariesFolder();
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = folder, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(folder, assembly));
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        foreach (var (key, value) in environment)
            start.Environment[key] = value;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(within);
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout + await stderr);
    }

    public HttpClient CreateClient() => new() { BaseAddress = Address, Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>SIGTERM: the orchestrator's polite stop.</summary>
    public void Terminate()
    {
        if (Kill(_process.Id, SignalTerminate) != 0)
            throw new InvalidOperationException($"kill(SIGTERM) failed: errno {Marshal.GetLastWin32Error()}");
    }

    /// <summary>SIGKILL: the process dies at once, mid-job, with no chance to hand anything back.</summary>
    public void KillHard() => _process.Kill(entireProcessTree: true);

    public async Task<int> WaitForExitAsync(TimeSpan within)
    {
        using var timeout = new CancellationTokenSource(within);
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"{Name} did not exit within {within}.\n{Describe()}");
        }
        return _process.ExitCode;
    }

    public string Describe() => $"--- {Name} (pid {Id}) output ---\n{string.Join('\n', _output.TakeLast(200))}";

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
            return;
        _disposed = true;
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }

    private bool _disposed;

    private async Task WaitUntilReadyAsync(TimeSpan within)
    {
        using var client = CreateClient();
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (_process.HasExited)
                throw new InvalidOperationException($"{Name} exited with {_process.ExitCode} while starting.\n{Describe()}");
            try
            {
                if ((await client.GetAsync("/readyz")).StatusCode == HttpStatusCode.OK)
                    return;
            }
            catch (HttpRequestException)
            {
            }
            if (clock.Elapsed > within)
                throw new TimeoutException($"{Name} was not ready within {within}.\n{Describe()}");
            await Task.Delay(200);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private const int SignalTerminate = 15;

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}
