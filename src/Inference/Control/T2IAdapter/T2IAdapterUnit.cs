using static TorchSharp.torch;

namespace Easel.Inference.Control.T2IAdapter;

/// <summary>One T2I-Adapter of a request with its condition image and weight.</summary>
/// <param name="Model">The adapter; the caller keeps ownership.</param>
/// <param name="Image">(1, in_channels, H, W) condition image in [0, 1] at the output size (diffusers feeds tensors as they are;
/// an 8-bit image becomes value / 255).</param>
/// <param name="Scale">diffusers' adapter_conditioning_scale: multiplies the adapter's features (with several adapters, the
/// MultiAdapter weight).</param>
public sealed record T2IAdapterUnit(T2IAdapterModel Model, Tensor Image, double Scale = 1.0);
