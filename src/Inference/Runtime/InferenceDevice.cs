using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Runtime;

/// <summary>Where and in which precision a model runs, chosen at run time.</summary>
public sealed record InferenceDevice(Device Device, ScalarType DType)
{
    /// <summary>
    /// Resolves a device name ("auto", "cpu", "cuda", "cuda:N") and a dtype name ("float32",
    /// "bfloat16", "float16"). "auto" picks CUDA when libtorch sees a GPU. Half precision on the CPU is
    /// refused: libtorch runs float16 matmuls there at a few GFLOP/s.
    /// </summary>
    public static InferenceDevice Resolve(string device = "auto", string dtype = "float32")
    {
        var resolved = device.Trim().ToLowerInvariant() switch
        {
            "auto" => torch.cuda.is_available() ? CUDA : CPU,
            "cpu" => CPU,
            var name when name.StartsWith("cuda", StringComparison.Ordinal) =>
                torch.cuda.is_available() ? torch.device(name) : throw new NotSupportedException($"Device '{device}' was requested but CUDA is not available."),
            _ => throw new ArgumentException($"Unknown device '{device}'; use auto, cpu or cuda[:N].", nameof(device)),
        };
        var scalar = dtype.Trim().ToLowerInvariant() switch
        {
            "float32" or "fp32" => ScalarType.Float32,
            "bfloat16" or "bf16" => ScalarType.BFloat16,
            "float16" or "fp16" => ScalarType.Float16,
            _ => throw new ArgumentException($"Unknown dtype '{dtype}'; use float32, bfloat16 or float16.", nameof(dtype)),
        };
        if (resolved.type == DeviceType.CPU && scalar == ScalarType.Float16)
            throw new NotSupportedException("float16 is not supported on the CPU; use float32 or bfloat16.");
        return new InferenceDevice(resolved, scalar);
    }

    public override string ToString() => $"{Device.type.ToString().ToLowerInvariant()}/{DType.ToString().ToLowerInvariant()}";
}
