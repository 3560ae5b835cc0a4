using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Easel.Tools.Fuzzing;

namespace Easel.Tools;

/// <summary>
/// <c>fuzz-requests [--count 1000] [--seed 1] [--api src/Api/bin/Release/net10.0/Easel.Api.dll]</c>: starts the service
/// (the built Easel.Api.dll) on a free loopback port with SQLite in a temporary folder, its in-process worker on the CPU
/// (so that the bundled model is served; each accepted job is canceled at once) and no rate limit,
/// sends <c>--count</c> mutated generation requests (see <see cref="RequestMutator"/>) over real sockets — those that cut
/// their connection short over a raw TCP connection — and prints how many of each kind got which status. Exits 1 when
/// any answer was a 5xx or a refusal without problem+json <c>errors</c>, or when the service stored another number of
/// jobs than it accepted, or logged an error.
/// </summary>
internal static class FuzzRequestsCommand
{
    public static int Run(Options options) => RunAsync(options).GetAwaiter().GetResult();

    private static async Task<int> RunAsync(Options options)
    {
        var count = options.Int("count", 1000);
        var seed = options.Int("seed", 1);
        var api = Path.GetFullPath(options.String("api", Path.Combine(RepositoryRoot(), "src", "Api", "bin", "Release", "net10.0", "Easel.Api.dll")));
        if (!File.Exists(api))
        {
            Console.Error.WriteLine($"No service at {api}: build it first (dotnet build Easel.slnx -c Release) or pass --api.");
            return 2;
        }

        var dataDir = Path.Combine(Path.GetTempPath(), $"easel-fuzz-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dataDir);
        var address = new Uri($"http://127.0.0.1:{FreePort()}");
        var serviceErrors = new System.Collections.Concurrent.ConcurrentQueue<string>();
        using var service = StartService(api, address, dataDir, serviceErrors);
        try
        {
            using var client = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(60) };
            await WaitUntilReadyAsync(client, service);
            var clock = Stopwatch.StartNew();
            var report = await RequestFuzzer.RunAsync(seed, count, c => c.DeclaredExtraBytes > 0 ? SendCutShortAsync(address, c) : SendAsync(client, c));
            var stored = await CountJobsAsync(client);

            Console.WriteLine($"fuzz-requests: {report.Total} requests (seed {seed}) to POST /v1/generations in {clock.Elapsed.TotalSeconds:0.0} s");
            Console.WriteLine();
            Console.Write(report.Table());
            Console.WriteLine();
            Console.WriteLine($"accepted {report.Accepted}, jobs stored {stored}");
            foreach (var failure in report.Failures)
                Console.WriteLine("FAIL " + failure);
            if (stored != report.Accepted)
                Console.WriteLine($"FAIL the service stored {stored} jobs but accepted {report.Accepted} requests");
            if (service.HasExited)
                Console.WriteLine($"FAIL the service exited with {service.ExitCode}");
            foreach (var error in serviceErrors)
                Console.WriteLine("FAIL the service logged: " + error);
            var ok = report.Failures.Count == 0 && stored == report.Accepted && !service.HasExited && serviceErrors.IsEmpty;
            Console.WriteLine(ok ? "no 5xx, every refusal a problem with errors" : $"{report.Failures.Count} failures");
            return ok ? 0 : 1;
        }
        finally
        {
            if (!service.HasExited)
            {
                service.Kill(entireProcessTree: true);
                await service.WaitForExitAsync();
            }
            try
            {
                Directory.Delete(dataDir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private static Process StartService(string api, Uri address, string dataDir, System.Collections.Concurrent.ConcurrentQueue<string> errors)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = Path.GetDirectoryName(api)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(api);
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add(address.ToString().TrimEnd('/'));
        start.Environment["Easel__DataDir"] = dataDir;
        // The in-process worker makes the bundled model a served one; every accepted job is canceled at once (SendAsync).
        start.Environment["Easel__Workers__Device"] = "cpu";
        start.Environment["Easel__Auth__RateLimitWhenOpen"] = "false";
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        start.Environment["Logging__LogLevel__Hangfire"] = "Warning";
        var process = Process.Start(start)!;
        // Warnings and worse only; an error or critical entry (an unhandled exception) fails the run even when the
        // client saw no answer (a connection cut short).
        void Read(object _, DataReceivedEventArgs e)
        {
            if (e.Data is null)
                return;
            Console.Error.WriteLine("service: " + e.Data);
            if (e.Data.Contains(" fail: ", StringComparison.Ordinal) || e.Data.Contains(" crit: ", StringComparison.Ordinal))
                errors.Enqueue(e.Data);
        }
        process.OutputDataReceived += Read;
        process.ErrorDataReceived += Read;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static async Task WaitUntilReadyAsync(HttpClient client, Process service)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (service.HasExited)
                throw new InvalidOperationException($"The service exited with {service.ExitCode} while starting.");
            try
            {
                if ((await client.GetAsync("/readyz")).StatusCode == HttpStatusCode.OK)
                    return;
            }
            catch (HttpRequestException)
            {
            }
            if (clock.Elapsed > TimeSpan.FromSeconds(60))
                throw new TimeoutException("The service was not ready within 60 s.");
            await Task.Delay(200);
        }
    }

    private static async Task<FuzzAnswer> SendAsync(HttpClient client, FuzzCase fuzzCase)
    {
        using var request = fuzzCase.ToHttpRequest();
        try
        {
            using var response = await client.SendAsync(request);
            var body = await response.Content.ReadAsStringAsync();
            if (response.IsSuccessStatusCode)
                await CancelAsync(client, body);
            return new FuzzAnswer((int)response.StatusCode, response.Content.Headers.ContentType?.ToString(), body);
        }
        catch (HttpRequestException e)
        {
            return new FuzzAnswer(0, null, e.Message);
        }
    }

    /// <summary>Cancels an accepted job (queued: at once; running: between two steps), so that the run costs no GPU time.</summary>
    private static async Task CancelAsync(HttpClient client, string job)
    {
        var id = JsonDocument.Parse(job).RootElement.GetProperty("id").GetGuid();
        using var response = await client.PostAsync($"/v1/jobs/{id}/cancel", null);
        if (response.StatusCode is not (HttpStatusCode.OK or HttpStatusCode.Accepted or HttpStatusCode.Conflict))
            throw new InvalidOperationException($"Canceling job {id} answered {(int)response.StatusCode}.");
    }

    /// <summary>Declares more bytes than it sends, then closes its sending side and reads what the service answers.</summary>
    private static async Task<FuzzAnswer> SendCutShortAsync(Uri address, FuzzCase fuzzCase)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(address.Host, address.Port);
        var stream = tcp.GetStream();
        var head = new StringBuilder()
            .Append("POST /v1/generations HTTP/1.1\r\n")
            .Append($"Host: {address.Authority}\r\n")
            .Append($"Content-Length: {fuzzCase.Body.Length + fuzzCase.DeclaredExtraBytes}\r\n");
        if (fuzzCase.ContentType is not null)
            head.Append($"Content-Type: {fuzzCase.ContentType}\r\n");
        if (fuzzCase.IdempotencyKey is not null)
            head.Append($"Idempotency-Key: {fuzzCase.IdempotencyKey}\r\n");
        head.Append("Connection: close\r\n\r\n");
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head.ToString()));
        await stream.WriteAsync(fuzzCase.Body);
        tcp.Client.Shutdown(SocketShutdown.Send);

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var answer = new MemoryStream();
        try
        {
            await stream.CopyToAsync(answer, timeout.Token);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException)
        {
        }
        var text = Encoding.UTF8.GetString(answer.ToArray());
        var statusLine = text.Split("\r\n", 2)[0].Split(' ');
        if (statusLine.Length < 2 || !int.TryParse(statusLine[1], out var status))
            return new FuzzAnswer(0, null, text);
        var headEnd = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        var headers = headEnd < 0 ? text : text[..headEnd];
        var contentType = headers.Split("\r\n").FirstOrDefault(h => h.StartsWith("Content-Type:", StringComparison.OrdinalIgnoreCase))?[13..].Trim();
        var body = headEnd < 0 ? "" : text[(headEnd + 4)..];
        if (headers.Contains("Transfer-Encoding: chunked", StringComparison.OrdinalIgnoreCase))
            body = Unchunk(body);
        return new FuzzAnswer(status, contentType, body);
    }

    private static string Unchunk(string body)
    {
        var text = new StringBuilder();
        var at = 0;
        while (at < body.Length)
        {
            var lineEnd = body.IndexOf("\r\n", at, StringComparison.Ordinal);
            if (lineEnd < 0 || !int.TryParse(body[at..lineEnd], System.Globalization.NumberStyles.HexNumber, null, out var size) || size == 0)
                break;
            text.Append(body, lineEnd + 2, Math.Min(size, body.Length - lineEnd - 2));
            at = lineEnd + 2 + size + 2;
        }
        return text.ToString();
    }

    /// <summary>Every job the service holds, counted through its own list endpoint.</summary>
    private static async Task<int> CountJobsAsync(HttpClient client)
    {
        var total = 0;
        string? cursor = null;
        do
        {
            var page = await client.ReadJsonAsync($"/v1/jobs?limit=100{(cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor))}");
            total += page.GetProperty("data").GetArrayLength();
            cursor = page.GetProperty("next_cursor").GetString();
        }
        while (cursor is not null);
        return total;
    }

    private static async Task<JsonElement> ReadJsonAsync(this HttpClient client, string path)
    {
        using var response = await client.GetAsync(path);
        response.EnsureSuccessStatusCode();
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }

    private static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Easel.slnx")))
            dir = dir.Parent;
        return dir?.FullName ?? Directory.GetCurrentDirectory();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
