using Easel.Bench;
using TorchSharp;
using static TorchSharp.torch;

// Usage: dotnet run -c Release --project bench/Easel.Bench -- [matmul] [sd15] [sdxl] [sdxl1024] [--repeats N]
// Prints one table: median milliseconds per call and achieved GFLOP/s, and each UNet call's share of the
// same run's dense matmul rate in the same dtype.
var selected = args.Where(a => !a.StartsWith("--", StringComparison.Ordinal)).ToHashSet(StringComparer.OrdinalIgnoreCase);
var repeatsAt = Array.IndexOf(args, "--repeats");
var repeats = repeatsAt >= 0 ? int.Parse(args[repeatsAt + 1]) : 3;
if (repeatsAt >= 0)
    selected.Remove(args[repeatsAt + 1]);
if (selected.Count == 0)
    selected = ["matmul", "sd15"];

var device = torch.cuda.is_available() ? CUDA : CPU;
var dtypes = device.type == DeviceType.CPU ? new[] { ScalarType.Float32, ScalarType.BFloat16 } : [ScalarType.Float16, ScalarType.BFloat16];
var configs = Path.Combine(AppContext.BaseDirectory, "Configs");
Console.WriteLine($"device {device.type}, threads {torch.get_num_threads()}, {Environment.ProcessorCount} logical cores");

var table = new Table("what", "dtype", "ms", "GFLOP/s", "note");
var matmul = dtypes.ToDictionary(d => d, d => MatmulRoofline.MeasureGflops(d, device, table));
foreach (var dtype in dtypes)
{
    // Analytic FLOP counts per sample per call: SD1.5 at a 64×64 latent 0.803 TFLOP, SDXL at 128×128 6.76 TFLOP
    // (attention grows faster than linearly, so SDXL at 64×64 is taken as a quarter: a lower bound on its rate).
    if (selected.Contains("sd15"))
        UNetStep.Run("SD1.5", Path.Combine(configs, "sd15-unet.json"), 64, 0.803, dtype, device, matmul[dtype], table, repeats);
    if (selected.Contains("sdxl"))
        UNetStep.Run("SDXL", Path.Combine(configs, "sdxl-unet.json"), 64, 6.76 / 4, dtype, device, matmul[dtype], table, repeats);
    if (selected.Contains("sdxl1024"))
        UNetStep.Run("SDXL", Path.Combine(configs, "sdxl-unet.json"), 128, 6.76, dtype, device, matmul[dtype], table, repeats);
}
table.Print(Console.Out);
