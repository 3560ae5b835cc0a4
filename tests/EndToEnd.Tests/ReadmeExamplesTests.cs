using System.Diagnostics;
using System.IO.Compression;
using System.Text.Json;
using System.Text.RegularExpressions;
using Easel.Testing;
using Xunit.Abstractions;

namespace Easel.EndToEnd.Tests;

/// <summary>
/// README.md works as written: every <c>curl</c> example of its bash blocks that talks to the embedded service (the
/// default of <c>./scripts/run.sh</c>: SQLite, in-process worker, the bundled model, no authentication) is run by bash as
/// it stands, against the real executable, in order. Only the address changes (a free port instead of 5080), and the
/// placeholders a reader fills in (<c>{id}</c>, <c>$ID</c>, <c>{image_id}</c>) take the ids of the jobs the earlier
/// examples created. Examples that need an admin or API key, or an id of something no example makes, are left out.
/// Each must answer below 500, and every submit must be accepted.
/// </summary>
public sealed partial class ReadmeExamplesTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly string _dataDir = TestPaths.NewTempFolder("easel-readme");
    private readonly string _workDir = TestPaths.NewTempFolder("easel-readme-files");
    private ServiceProcess? _service;

    public async Task InitializeAsync()
    {
        _service = await ServiceProcess.StartAsync("Easel.Api.dll", new Dictionary<string, string>
        {
            ["Easel__DataDir"] = _dataDir,
            ["Easel__Workers__Device"] = "cpu",
        });
        // The files the examples upload, as a reader has them in the current folder.
        await File.WriteAllBytesAsync(Path.Combine(_workDir, "in.png"), TestImages.Png());
        await File.WriteAllBytesAsync(Path.Combine(_workDir, "mask.png"), TestImages.Mask());
        File.Copy(Path.Combine(TestPaths.FixtureModel("lora_sd15"), "lora_kohya.safetensors"), Path.Combine(_workDir, "my_lora.safetensors"));
        using (var dataset = ZipFile.Open(Path.Combine(_workDir, "dataset.zip"), ZipArchiveMode.Create))
        {
            dataset.CreateEntryFromFile(Path.Combine(_workDir, "in.png"), "in.png");
            await using var caption = new StreamWriter(dataset.CreateEntry("in.txt").Open());
            await caption.WriteAsync("a sks pattern, on the right");
        }
    }

    [Fact]
    public async Task Every_curl_example_for_the_embedded_service_runs_as_written()
    {
        var examples = CurlExamples(await File.ReadAllTextAsync(Path.Combine(TestPaths.RepositoryRoot(), "README.md")));
        Assert.True(examples.Count >= 15, $"found only {examples.Count} examples");
        string? jobId = null, imageId = null, artifactId = null;
        var ran = 0;
        foreach (var example in examples)
        {
            var command = example.Replace("http://localhost:5080", _service!.Address.ToString().TrimEnd('/'))
                .Replace("localhost:5080", _service.Address.Authority);
            if (jobId is not null)
                command = command.Replace("{id}", jobId).Replace("$ID", jobId);
            if (imageId is not null)
                command = command.Replace("{image_id}", imageId);
            if (artifactId is not null)
                command = command.Replace("{artifact_id}", artifactId);
            if (NeedsWhatNoExampleMakes().IsMatch(command))
            {
                output.WriteLine($"left out: {example}");
                continue;
            }

            var (status, body) = await RunAsync(command);
            output.WriteLine($"{status} {example}");
            Assert.True(status is > 0 and < 500, $"{example}\n→ HTTP {status}: {body}");
            if (command.Contains("/v1/generations", StringComparison.Ordinal))
            {
                Assert.True(status is 200 or 202, $"{example}\n→ HTTP {status}: {body}");
                var job = JsonDocument.Parse(body).RootElement;
                jobId = job.GetProperty("id").GetString();
                var finished = await JobPolling.UntilFinishedAsync(_service.CreateClient(), $"/v1/jobs/{jobId}", TimeSpan.FromMinutes(2));
                Assert.True(finished.GetProperty("status").GetString() == "succeeded", $"{example}\n→ {finished}");
                imageId = finished.GetProperty("images")[0].GetProperty("id").GetString();
            }
            if (command.Contains("/v1/fine-tunes", StringComparison.Ordinal))
            {
                // The generations after it use what it trains, as a reader would wait for it.
                Assert.True(status is 202, $"{example}\n→ HTTP {status}: {body}");
                var id = JsonDocument.Parse(body).RootElement.GetProperty("id").GetString();
                var finished = await JobPolling.UntilFinishedAsync(_service.CreateClient(), $"/v1/jobs/{id}", TimeSpan.FromMinutes(5));
                Assert.True(finished.GetProperty("status").GetString() == "succeeded", $"{example}\n→ {finished}");
                artifactId ??= finished.GetProperty("artifacts")[0].GetProperty("id").GetString(); // the LoRA: the examples download it as kohya
            }
            ran++;
        }
        Assert.True(ran >= 12, $"only {ran} examples ran");
    }

    /// <summary>
    /// The <c>curl</c> commands of the README's bash blocks: lines joined while a backslash continues them or a quote is
    /// open (a JSON body may span lines), trailing comments removed.
    /// </summary>
    private static List<string> CurlExamples(string readme)
    {
        var examples = new List<string>();
        foreach (Match block in BashBlock().Matches(readme))
        {
            var command = "";
            var separator = "";
            foreach (var line in block.Groups[1].Value.Split('\n'))
            {
                command += separator + line;
                if (command.EndsWith('\\'))
                {
                    (command, separator) = (command[..^1], " ");
                    continue;
                }
                if (command.Count(c => c == '\'') % 2 == 1)
                {
                    separator = "\n";
                    continue;
                }
                separator = "";
                var complete = TrailingComment().Replace(command.Trim(), "");
                if (complete.StartsWith("curl ", StringComparison.Ordinal) && complete.Contains("localhost:5080", StringComparison.Ordinal))
                    examples.Add(complete);
                command = "";
            }
        }
        return examples;
    }

    /// <summary>Runs the example with bash in the folder holding in.png and mask.png; the HTTP status is written after the body.</summary>
    private async Task<(int Status, string Body)> RunAsync(string command)
    {
        var start = new ProcessStartInfo("bash") { WorkingDirectory = _workDir, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add($"{command} --max-time 60 -w '\\n%{{http_code}}'");
        using var process = Process.Start(start)!;
        var stdout = await process.StandardOutput.ReadToEndAsync();
        var stderr = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"{command}\n→ exit {process.ExitCode}: {stderr}");
        var split = stdout.LastIndexOf('\n');
        return (int.Parse(stdout[(split + 1)..], System.Globalization.CultureInfo.InvariantCulture), stdout[..Math.Max(split, 0)]);
    }

    [GeneratedRegex(@"```bash\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex BashBlock();

    /// <summary>A comment after the command: whitespace, then # (README examples have no # inside their arguments).</summary>
    [GeneratedRegex(@"\s+#.*$")]
    private static partial Regex TrailingComment();

    /// <summary>Placeholders no example fills in (keys, delivery ids, key ids, a configured control model) or an id before any job exists.</summary>
    [GeneratedRegex(@"\$CONTROLNET|\$ADAPTER|\$GLIGEN|\$ADMIN|\$KEY|\$DELIVERY|\{id\}|\$ID|\{image_id\}|\{artifact_id\}|key_1f0e…")]
    private static partial Regex NeedsWhatNoExampleMakes();

    public async Task DisposeAsync()
    {
        if (_service is not null)
        {
            output.WriteLine(_service.Describe());
            await _service.DisposeAsync();
        }
        foreach (var folder in new[] { _dataDir, _workDir })
        {
            try
            {
                Directory.Delete(folder, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
