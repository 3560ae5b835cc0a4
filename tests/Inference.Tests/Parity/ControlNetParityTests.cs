using Easel.Core.Models;
using Easel.Inference.Control.ControlNet;
using Easel.Inference.Models.UNet;
using Easel.Inference.Pipelines;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Tests.Parity;

/// <summary>
/// ControlNetModel against diffusers: the conditioning embedding, every scaled residual and the base UNet's noise prediction
/// with them, for every controlnet case of the manifest (SD 1.x and SDXL layouts); and the pipeline with a ControlNet unit.
/// </summary>
[Trait("Category", "Parity")]
public sealed class ControlNetParityTests
{
    public static TheoryData<string> Cases => ParityFixtures.CasesOfKind("controlnet");

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void ResidualsAndNoisePredictionMatchDiffusers(string caseName)
    {
        using var c = ParityFixtures.Load(caseName);
        var controlNetFolder = c.ModelDirs[^1];
        using var controlNet = ControlNetModel.FromPretrained(controlNetFolder);
        using var unet = UNet2DConditionModel.FromPretrained(BaseUNetFolder(c, controlNet.Config));
        var tolerance = Tolerance.For(c.Info.Kind);
        var p = c.Params;

        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var added = c.Has("in.text_embeds") ? new AddedConditions(c.Tensor("in.text_embeds"), c.Tensor("in.time_ids")) : null;
        var input = new ControlNetInput(c.Tensor("in.sample"), c.Tensor("in.timestep"), c.Tensor("in.encoder_hidden_states"),
            c.Tensor("in.controlnet_cond"), p.GetProperty("conditioning_scale").GetDouble(), p.GetProperty("guess_mode").GetBoolean(), added);
        Tensor? embedding = null;
        var residuals = controlNet.forward(input, (name, t) => embedding = name == "controlnet_cond_embedding" ? t.clone().DetachFromDisposeScope() : embedding);

        Assert.NotNull(embedding);
        using var observedEmbedding = embedding;
        tolerance.AssertClose(c.Tensor("mid.controlnet_cond_embedding"), embedding, $"{caseName} controlnet_cond_embedding");
        Assert.Equal(p.GetProperty("num_down_block_res_samples").GetInt32(), residuals.DownBlockResiduals.Count);
        for (var i = 0; i < residuals.DownBlockResiduals.Count; i++)
            tolerance.AssertClose(c.Tensor($"out.down_block_res_sample_{i}"), residuals.DownBlockResiduals[i], $"{caseName} down_block_res_sample_{i}");
        tolerance.AssertClose(c.Tensor("out.mid_block_res_sample"), residuals.MidBlockResidual, $"{caseName} mid_block_res_sample");

        var prediction = unet.forward(input.Sample, input.Timestep, input.EncoderHiddenStates, new UNetConditioning(Control: residuals, Added: added));
        tolerance.AssertClose(c.Tensor("out.unet_noise_pred"), prediction, $"{caseName} unet_noise_pred");
    }

    public static TheoryData<string> PipelineCases => ParityFixtures.PipelineCasesOfFamily("controlnet");

    [Theory]
    [MemberData(nameof(PipelineCases))]
    public void PipelineWithTheControlNetMatchesDiffusers(string caseName)
    {
        using var parity = ParityFixtures.Load(caseName);
        var p = parity.Params;
        using var pipeline = StableDiffusionPipeline.Load(parity.ModelDirs[0], new PipelineOptions("cpu", "float32"));
        using var controlNet = ControlNetModel.FromPretrained(parity.ModelDirs[^1]);
        using var image = parity.Tensor("in.control_image");
        var unit = new ControlNetUnit(controlNet, InputImage.FromTensor(image), p.GetProperty("controlnet_conditioning_scale").GetDouble(),
            GuessMode: p.TryGetProperty("guess_mode", out var guess) && guess.GetBoolean());
        PipelineParityTests.AssertMatchesGoldens(parity, pipeline, [new ControlNetDenoisingExtension([unit])]);
    }

    /// <summary>
    /// The UNet the case's residuals feed: the first folder of a "base + controlnet" case, else the fixture pipeline the
    /// ControlNet fits (Core's model description tells, so a new fixture set needs no list here).
    /// </summary>
    internal static string BaseUNetFolder(ParityCase c, ControlNetConfig controlNet)
    {
        if (c.ModelDirs.Count > 1)
            return Path.Combine(c.ModelDirs[0], "unet");
        var control = ModelDescription.DescribeFolder("controlnet", c.ModelDirs[^1]);
        var fitting = Directory.GetDirectories(ParityFixtures.PathOf("models")).Order(StringComparer.Ordinal)
            .Where(model => File.Exists(Path.Combine(model, "model_index.json")))
            .Where(model =>
            {
                var config = UNet2DConditionConfig.Load(Path.Combine(model, "unet"));
                return config.InChannels == controlNet.InChannels && config.AttentionType == "default"
                    && control.MismatchWith(ModelDescription.DescribeFolder(Path.GetFileName(model), model)) is null;
            })
            .ToList();
        Assert.True(fitting.Count > 0, $"{c.Name}: no fixture UNet fits the ControlNet");
        return Path.Combine(fitting[0], "unet");
    }
}
