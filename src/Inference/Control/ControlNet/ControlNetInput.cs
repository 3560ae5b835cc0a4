using Easel.Inference.Models;
using Easel.Inference.Models.UNet;
using static TorchSharp.torch;

namespace Easel.Inference.Control.ControlNet;

/// <summary>One ControlNet call: the UNet's inputs of the step plus the control image.</summary>
/// <param name="Sample">(B, 4, h, w) the UNet's (scaled) latent input.</param>
/// <param name="Timestep">0-d or (B) timesteps.</param>
/// <param name="EncoderHiddenStates">(B, M, D) text states.</param>
/// <param name="ControlnetCond">(B, 3, H, W) control image in [0, 1] at the output size (not normalised, as diffusers).</param>
/// <param name="ConditioningScale">Multiplies every residual.</param>
/// <param name="GuessMode">Residuals ramped from 0.1 (first skip) to 1.0 (mid block) on a log scale, as diffusers' guess mode.</param>
/// <param name="Added">SDXL text_time conditions (the ones the UNet gets).</param>
/// <param name="Attention">The step's attention context.</param>
public sealed record ControlNetInput(
    Tensor Sample,
    Tensor Timestep,
    Tensor EncoderHiddenStates,
    Tensor ControlnetCond,
    double ConditioningScale = 1.0,
    bool GuessMode = false,
    AddedConditions? Added = null,
    AttentionContext? Attention = null);
