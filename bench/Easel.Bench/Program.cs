using Easel.Bench;
using Easel.Inference.Loading;
using Easel.Inference.Models.UNet;
using Easel.Inference.Models.Vae;
using TorchSharp;
using static TorchSharp.torch;

// Usage: dotnet run -c Release --project bench/Easel.Bench -- [sd15] [sdxl] [sdxl1024] [vae] [lora] [control] [gligen] [edit] [--repeats N] [--warmup N] [--backends sdpa,explicit]
//        dotnet run -c Release --project bench/Easel.Bench -- service [--enqueue N] [--concurrency C] [--jobs N] [--steps S] [--model DIR]
// The service target (ServiceBench) measures the job service on PostgreSQL and loads no model in this process.
if (args is ["service", ..])
    return await ServiceBench.RunAsync(args[1..]);

// With no target it runs all of them: every figure of issue 4's "Precision, memory, speed". Prints one table: median
// milliseconds per call, achieved GFLOP/s from analytic FLOP counts (FlopCount, walked from the real configs), and each
// call's share of the same run's best 1024–2048 square matmul rate in the same dtype. The matmul rows always run.
var targets = new[] { "sd15", "sdxl", "sdxl1024", "vae", "lora", "control", "gligen", "edit" };
string? Option(string name)
{
    var at = Array.IndexOf(args, name);
    return at >= 0 && at + 1 < args.Length ? args[at + 1] : null;
}
var optionValues = new[] { Option("--repeats"), Option("--warmup"), Option("--backends") }.Where(v => v is not null).ToHashSet();
var selected = args.Where(a => !a.StartsWith("--", StringComparison.Ordinal) && !optionValues.Contains(a)).ToHashSet(StringComparer.OrdinalIgnoreCase);
var unknown = selected.Except(targets, StringComparer.OrdinalIgnoreCase).ToList();
if (unknown.Count > 0)
{
    Console.Error.WriteLine($"unknown target(s) {string.Join(", ", unknown)}; use {string.Join(", ", targets)}");
    return 2;
}
if (selected.Count == 0)
    selected = targets.ToHashSet(StringComparer.OrdinalIgnoreCase);
var repeats = int.Parse(Option("--repeats") ?? "3");
var warmup = int.Parse(Option("--warmup") ?? "1");
Timing.DefaultWarmup = warmup;
var backends = (Option("--backends") ?? "sdpa,explicit").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

var device = torch.cuda.is_available() ? CUDA : CPU;
var dtypes = device.type == DeviceType.CPU ? new[] { ScalarType.Float32, ScalarType.BFloat16 } : [ScalarType.Float16, ScalarType.BFloat16];
var configs = Path.Combine(AppContext.BaseDirectory, "Configs");
string Config(string file) => Path.Combine(configs, file);
Console.WriteLine($"device {device.type}, threads {torch.get_num_threads()}, {Environment.ProcessorCount} logical cores, repeats {repeats} (median) after {warmup} warm-up, attention {string.Join("/", backends)}");

// The analytic counts against the figures the issue quotes.
var sd15 = ConfigJson.Read<UNet2DConditionConfig>(Config("sd15-unet.json"));
var sdxl = ConfigJson.Read<UNet2DConditionConfig>(Config("sdxl-unet.json"));
var vaeConfig = ConfigJson.Read<AutoencoderKLConfig>(Config("sd15-vae.json"));
Console.WriteLine($"analytic TFLOP per sample per call: SD1.5 UNet 64×64 latent {FlopCount.UNet(sd15, 64) / 1e12:0.###} (issue: 0.803), " +
                  $"SDXL UNet 128×128 {FlopCount.UNet(sdxl, 128) / 1e12:0.###} (issue: 6.76), SDXL UNet 64×64 {FlopCount.UNet(sdxl, 64) / 1e12:0.###} " +
                  $"(a quarter of 128×128 would be {FlopCount.UNet(sdxl, 128) / 4e12:0.###}), VAE decoder → 512×512 {FlopCount.VaeDecoder(vaeConfig, 64) / 1e12:0.###} (issue: 2.5)");

var table = new Table("what", "dtype", "ms", "GFLOP/s", "note");
var matmul = dtypes.ToDictionary(d => d, d => MatmulRoofline.MeasureGflops(d, device, table));
if (selected.Contains("sd15"))
    UNetStep.RunAll("SD1.5", Config("sd15-unet.json"), [64], dtypes, backends, device, matmul, table, repeats);
var sdxlSizes = new[] { ("sdxl", 64), ("sdxl1024", 128) }.Where(s => selected.Contains(s.Item1)).Select(s => s.Item2).ToList();
if (sdxlSizes.Count > 0)
    UNetStep.RunAll("SDXL", Config("sdxl-unet.json"), sdxlSizes, dtypes, backends, device, matmul, table, repeats);
if (selected.Contains("vae"))
    UNetStep.RunVaeDecoder("SD", Config("sd15-vae.json"), 64, dtypes, backends, device, matmul, table, repeats);
if (selected.Contains("lora"))
    LoraBench.Run(Config("sd15-unet.json"), Path.Combine(Easel.Testing.TestPaths.RepositoryRoot(), "models", "easel-shapes"), device, table, repeats);
if (selected.Contains("control"))
    ControlBench.Run(Config("sd15-unet.json"), device, table, repeats);
if (selected.Contains("gligen"))
    ControlBench.RunGligen(Config("sd15-unet.json"), device, table, repeats);
if (selected.Contains("edit"))
    EditBench.Run(Path.Combine(Easel.Testing.TestPaths.RepositoryRoot(), "models", "easel-shapes"), table, repeats);
table.Print(Console.Out);
return 0;
