using Easel.Inference.Models;

namespace Easel.Inference.Customization.Lora;

/// <summary>
/// One layer's update as a LoRA file names it: the component (<see cref="LoraAdapter.UNet"/>,
/// <see cref="LoraAdapter.TextEncoder"/>, <see cref="LoraAdapter.TextEncoder2"/>), the module path (diffusers names, or LDM names
/// for kohya's SDXL UNet keys) and the key stem the tensors were stored under, for errors.
/// </summary>
public sealed record LoraAdapterEntry(string Component, string Module, LoraLayerWeights Weights, string SourceKey);
