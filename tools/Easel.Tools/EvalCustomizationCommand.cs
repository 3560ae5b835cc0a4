using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Easel.Inference.Imaging;
using Easel.Inference.Pipelines;
using Easel.Inference.Shapes;
using Easel.Testing;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Easel.Tools;

/// <summary>
/// The customization effect on the bundled model, end to end over HTTP: a service it starts (embedded defaults: SQLite,
/// in-process worker, the bundled model) trains, through <c>POST /v1/fine-tunes</c>, a LoRA ("a green sks ring …"
/// captions) and a textual-inversion embedding ("a green &lt;ring&gt; …") from the same 16 rendered green rings at random
/// positions, then generates held-out colours and positions with each, and with the base model ("a red ring …"). The
/// judge (rings enabled) scores ring, colour and position. Also checked: a LoRA at scale 0 gives the base model's pixels.
/// Same images, seeds and prompts every run.
/// </summary>
internal static class EvalCustomizationCommand
{
    private const ulong RingSeed = 77_000_001;

    private static readonly string[] HeldOut =
    [
        "a red {0}", "a blue {0} on the left", "a yellow {0} at the top", "a white {0} on the right",
        "a black {0} at the bottom", "a purple {0} in the centre", "a red {0} on the left", "a blue {0}",
    ];

    public static int Run(Options options) => RunAsync(options).GetAwaiter().GetResult();

    private static async Task<int> RunAsync(Options options)
    {
        var smoke = options.OptionalBool("smoke", false) ?? false;
        var steps = options.Int("steps", smoke ? 10 : 400);
        var perPrompt = options.Int("images", smoke ? 1 : 8);
        var prompts = smoke ? HeldOut[..2] : HeldOut;
        var loraRate = options.Double("lora-learning-rate", 1e-3);
        var tiRate = options.Double("ti-learning-rate", 5e-3);
        var rank = options.Int("rank", 8);
        var loraScale = options.Double("lora-scale", 1.0);
        var batchSize = options.Int("batch-size", smoke ? 1 : 4);
        var targets = options.String("target-modules", "to_q,to_k,to_v,to_out.0").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var dataDir = TestPaths.NewTempFolder("easel-eval-customization");
        await using var service = await ServiceProcess.StartAsync("Easel.Api.dll", new Dictionary<string, string>
        {
            ["Easel__DataDir"] = dataDir,
            ["Easel__Workers__Device"] = "cpu",
            ["Logging__LogLevel__Default"] = "Warning",
            ["Easel__Generation__MaxImages"] = Math.Max(4, perPrompt).ToString(CultureInfo.InvariantCulture),
        }, TimeSpan.FromMinutes(2));
        using var client = service.CreateClient();
        client.Timeout = TimeSpan.FromMinutes(5);
        try
        {
            var rings = new RingDataset(ShapeColor.Green, RingSeed).Render(16);
            JsonArray Images() => [.. rings.Select(r => (JsonNode)Convert.ToBase64String(PngEncoder.Encode(new GeneratedImage(64, 64, r.Rgb))))];
            JsonArray Captions(string word) => [.. rings.Select(r => (JsonNode)r.Item.Caption.Replace("ring", word, StringComparison.Ordinal))];

            var (lora, loraSeconds) = await TrainAsync(client, new JsonObject
            {
                ["method"] = "lora", ["images"] = Images(), ["captions"] = Captions("sks ring"), ["steps"] = steps,
                ["rank"] = rank, ["target_modules"] = new JsonArray([.. targets.Select(t => (JsonNode)t)]), ["learning_rate"] = loraRate, ["batch_size"] = batchSize, ["seed"] = 1, ["name"] = "ring-lora",
            });
            Console.Error.WriteLine($"LoRA trained in {loraSeconds:F0} s");
            var (embedding, tiSeconds) = await TrainAsync(client, new JsonObject
            {
                ["method"] = "textual_inversion", ["images"] = Images(), ["captions"] = Captions("<ring>"), ["steps"] = steps,
                ["token"] = "<ring>", ["initializer_token"] = "circle", ["learning_rate"] = tiRate, ["batch_size"] = batchSize, ["seed"] = 1,
                ["name"] = "ring-ti",
            });

            var judge = new ShapeJudge(ShapeJudgeOptions.Default with { Kinds = ShapeKinds.WithRing });
            var rows = new List<(string Name, RingTally Tally)>();
            foreach (var (name, word, extra) in new (string, string, Action<JsonObject>?)[]
            {
                ("base model (\"a red ring …\")", "ring", null),
                ($"LoRA ring-lora (\"a red sks ring …\", scale {loraScale})", "sks ring", b => b["loras"] = new JsonArray(new JsonObject { ["artifact"] = lora, ["scale"] = loraScale })),
                ($"embedding ring-ti (\"a red <ring> …\")", "<ring>", b => b["embeddings"] = new JsonArray(embedding)),
            })
            {
                var tally = new RingTally();
                for (var p = 0; p < prompts.Length; p++)
                {
                    var prompt = string.Format(CultureInfo.InvariantCulture, prompts[p], word);
                    var body = Generation(prompt, 9000 + 100 * p, perPrompt);
                    extra?.Invoke(body);
                    var spec = CaptionParser.Parse(string.Format(CultureInfo.InvariantCulture, prompts[p], "ring"));
                    foreach (var rgb in await GenerateAsync(client, body))
                        tally.Add(judge.Score(rgb, spec));
                }
                rows.Add((name, tally));
            }

            var zero = Generation("a red sks ring", 4242, 1);
            zero["loras"] = new JsonArray(new JsonObject { ["artifact"] = lora, ["scale"] = 0.0 });
            var atScaleZero = (await GenerateAsync(client, zero)).Single();
            var withoutLora = (await GenerateAsync(client, Generation("a red sks ring", 4242, 1))).Single();
            var scaleZeroIsBase = atScaleZero.AsSpan().SequenceEqual(withoutLora);

            Console.WriteLine($"eval-customization: bundled model, 16 green training rings (seed {RingSeed}), {steps} steps each "
                + $"(batch {batchSize}; LoRA rank {rank} on {string.Join(",", targets)}, lr {loraRate}; embedding lr {tiRate}); {prompts.Length} held-out prompts × {perPrompt} images, 20 steps");
            Console.WriteLine($"training time: LoRA {loraSeconds:F0} s, embedding {tiSeconds:F0} s (through POST /v1/fine-tunes, {Environment.ProcessorCount} cores)");
            Console.WriteLine("| generator | n | ring | ring of the asked colour | ring, colour and position | kinds found |");
            Console.WriteLine("|---|---|---|---|---|---|");
            foreach (var (name, t) in rows)
                Console.WriteLine($"| {name} | {t.Images} | {Percent(t.Ring, t.Images)} | {Percent(t.RingWithColor, t.Images)} | {Percent(t.AllCorrect, t.Images)} | {t.KindsFound()} |");
            Console.WriteLine($"LoRA scale 0 gives the base model's pixels: {(scaleZeroIsBase ? "yes" : "NO")}");
            return scaleZeroIsBase ? 0 : 1;
        }
        finally
        {
            await service.DisposeAsync();
            Directory.Delete(dataDir, recursive: true);
        }
    }

    private static JsonObject Generation(string prompt, long seed, int count) => new()
    {
        ["prompt"] = prompt, ["seed"] = seed, ["num_images"] = count, ["width"] = 64, ["height"] = 64,
    };

    private static async Task<(string ArtifactId, double Seconds)> TrainAsync(HttpClient client, JsonObject body)
    {
        var clock = Stopwatch.StartNew();
        var job = await RunAsync(client, "/v1/fine-tunes", body);
        return (job.GetProperty("artifacts")[0].GetProperty("id").GetString()!, clock.Elapsed.TotalSeconds);
    }

    private static async Task<List<byte[]>> GenerateAsync(HttpClient client, JsonObject body)
    {
        var job = await RunAsync(client, "/v1/generations", body);
        var images = new List<byte[]>();
        foreach (var image in job.GetProperty("images").EnumerateArray())
        {
            using var decoded = SixLabors.ImageSharp.Image.Load<Rgb24>(await client.GetByteArrayAsync(image.GetProperty("url").GetString()));
            var rgb = new byte[decoded.Width * decoded.Height * 3];
            decoded.CopyPixelDataTo(rgb);
            images.Add(rgb);
        }
        return images;
    }

    private static async Task<JsonElement> RunAsync(HttpClient client, string path, JsonObject body)
    {
        var submitted = await client.PostAsJsonAsync(path, body);
        var text = await submitted.Content.ReadAsStringAsync();
        if (!submitted.IsSuccessStatusCode)
            throw new InvalidOperationException($"POST {path}: {(int)submitted.StatusCode} {text}");
        var location = submitted.Headers.Location!.OriginalString;
        while (true)
        {
            var job = await client.GetFromJsonAsync<JsonElement>(location);
            var status = job.GetProperty("status").GetString();
            if (status == "succeeded")
                return job;
            if (status is "failed" or "canceled")
                throw new InvalidOperationException($"{path} job {status}: {job.GetProperty("error")}");
            await Task.Delay(500);
        }
    }

    private static string Percent(int count, int of) => $"{100.0 * count / of:F1} % ({count}/{of})";
}
