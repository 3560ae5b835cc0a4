using Easel.Inference.Models.UNet;
using Easel.Inference.Pipelines;
using Easel.Inference.Pipelines.Denoising;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Control.ControlNet;

/// <summary>
/// Adds the residuals of a request's ControlNet units to every step's UNet conditioning, as diffusers'
/// StableDiffusionControlNetPipeline and MultiControlNetModel: each active unit sees the step's latents (the base
/// channels of an inpainting UNet's input), timestep, text states and SDXL added conditions, and the units' residuals
/// are summed (on top of any residuals an earlier contributor gave).
/// </summary>
public sealed class ControlNetDenoisingExtension : IUNetConditioningContributor
{
    private readonly IReadOnlyList<ControlNetUnit> _units;

    public ControlNetDenoisingExtension(IReadOnlyList<ControlNetUnit> units)
    {
        ArgumentOutOfRangeException.ThrowIfZero(units.Count, nameof(units));
        foreach (var unit in units)
        {
            if (!(unit.Start >= 0 && unit.Start < unit.End && unit.End <= 1))
                throw new ArgumentException($"A unit needs 0 ≤ start < end ≤ 1; got start {unit.Start}, end {unit.End}.", nameof(units));
        }
        _units = units;
    }

    public UNetConditioning Contribute(DenoisingStep step, Tensor modelInput, UNetConditioning conditioning)
    {
        var control = conditioning.Control;
        foreach (var unit in _units.Where(u => u.IsActiveAt(step.Index, step.TotalSteps)))
        {
            var residuals = Residuals(unit, step, modelInput);
            control = control is null
                ? residuals
                : new ControlResiduals(control.DownBlockResiduals.Zip(residuals.DownBlockResiduals, (a, b) => a + b).ToList(),
                    control.MidBlockResidual + residuals.MidBlockResidual);
        }
        return conditioning with { Control = control };
    }

    /// <summary>
    /// One unit's residuals for the step's whole batch. Rows the unit does not condition (the unconditional half when
    /// <see cref="ControlNetUnit.ConditionalOnly"/>) get zeros, as diffusers' guess mode. In <see cref="SeedMode.PerImage"/>
    /// the ControlNet runs image by image, as the UNet does, so image i of a batch equals its single-image run.
    /// </summary>
    private static ControlResiduals Residuals(ControlNetUnit unit, DenoisingStep step, Tensor modelInput)
    {
        var model = unit.Model;
        var rows = modelInput.shape[0];
        var images = step.Request.NumImages;
        var firstRow = step.Guidance && unit.ConditionalOnly ? rows / 2 : 0;
        var groups = step.Request.SeedMode == SeedMode.PerImage && images > 1 && rows % images == 0
            ? Enumerable.Range(0, images).Select(i => torch.arange(firstRow + i, rows, images, dtype: int64)).ToList()
            : [torch.arange(firstRow, rows, dtype: int64)];

        var sample = modelInput[TensorIndex.Colon, TensorIndex.Slice(0, model.Config.InChannels)];
        var parts = groups.Select(g => Call(unit, step, sample, g)).ToList();
        var count = parts[0].DownBlockResiduals.Count + 1;
        var rowOrder = torch.cat(groups.ToArray());

        // Residual k of n (mid block last) in the step's row order, zeros on rows the unit does not condition.
        Tensor Assemble(Func<ControlResiduals, Tensor> residual, int k)
        {
            var called = torch.cat(parts.Select(residual).ToArray(), 0) * unit.ModeFactor(k, count);
            if (groups.Count == 1 && firstRow == 0)
                return called;
            var full = torch.zeros([rows, .. called.shape[1..]], called.dtype, called.device);
            return full.index_copy_(0, rowOrder.to(called.device), called);
        }

        var down = Enumerable.Range(0, count - 1).Select(k => Assemble(r => r.DownBlockResiduals[k], k)).ToList();
        return new ControlResiduals(down, Assemble(r => r.MidBlockResidual, count - 1));
    }

    /// <summary>The ControlNet over the batch rows <paramref name="rows"/>, in the ControlNet's own dtype and device.</summary>
    private static ControlResiduals Call(ControlNetUnit unit, DenoisingStep step, Tensor sample, Tensor rows)
    {
        var model = unit.Model;
        var (dtype, device) = (model.DType, model.Device);
        var count = rows.shape[0];
        Tensor Rows(Tensor x) => x.index_select(0, rows.to(x.device)).to(dtype, device);
        var added = step.Prompt.UNetConditioning?.Added is { } a ? new AddedConditions(Rows(a.TextEmbeds), Rows(a.TimeIds)) : null;
        var image = unit.Image.ToRgbTensor(device).to(dtype).expand(count, -1, -1, -1);
        return model.forward(new ControlNetInput(Rows(sample), step.Timestep.to(device), Rows(step.Prompt.HiddenStates), image,
            unit.Scale, unit.GuessMode, added, step.Attention));
    }
}
