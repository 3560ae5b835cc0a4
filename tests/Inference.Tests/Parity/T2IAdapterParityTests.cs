using Easel.Inference.Control.T2IAdapter;
using Easel.Inference.Models.UNet;
using Easel.Inference.Pipelines;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Tests.Parity;

/// <summary>
/// T2IAdapterModel against diffusers: every feature and the base UNet's noise prediction with them as
/// down_intrablock_additional_residuals, for every t2i_adapter case of the manifest (full and light layouts); and the
/// pipeline with the adapter.
/// </summary>
[Trait("Category", "Parity")]
public sealed class T2IAdapterParityTests
{
    public static TheoryData<string> Cases => ParityFixtures.CasesOfKind("t2i_adapter");

    [Theory]
    [MemberData(nameof(Cases))]
    public void FeaturesAndNoisePredictionMatchDiffusers(string caseName)
    {
        using var c = ParityFixtures.Load(caseName);
        using var adapter = T2IAdapterModel.FromPretrained(c.ModelDirs[^1]);
        var tolerance = Tolerance.For(c.Info.Kind);

        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var features = adapter.forward(c.Tensor("in.adapter_input"));
        var goldenCount = c.TensorNames.Count(n => n.StartsWith("out.feature_", StringComparison.Ordinal));
        Assert.Equal(goldenCount, features.Count);
        for (var i = 0; i < features.Count; i++)
            tolerance.AssertClose(c.Tensor($"out.feature_{i}"), features[i], $"{caseName} feature_{i}");

        var hiddenStates = c.Tensor("in.encoder_hidden_states");
        using var unet = UNet2DConditionModel.FromPretrained(BaseUNetFolder(c, features, hiddenStates.shape[^1]));
        var prediction = unet.forward(c.Tensor("in.sample"), c.Tensor("in.timestep"), hiddenStates, new UNetConditioning(DownIntrablockResiduals: features));
        tolerance.AssertClose(c.Tensor("out.unet_noise_pred"), prediction, $"{caseName} unet_noise_pred");
    }

    public static TheoryData<string> PipelineCases => ParityFixtures.PipelineCasesOfFamily("t2i_adapter");

    [Theory]
    [MemberData(nameof(PipelineCases))]
    public void PipelineWithTheAdapterMatchesDiffusers(string caseName)
    {
        using var parity = ParityFixtures.Load(caseName);
        using var pipeline = StableDiffusionPipeline.Load(parity.ModelDirs[0], new PipelineOptions("cpu", "float32"));
        using var adapter = T2IAdapterModel.FromPretrained(parity.ModelDirs[^1]);
        using var pixels = parity.Tensor("in.adapter_image_uint8_hwc"); // (H, W, 3) 8-bit values
        // diffusers' _preprocess_adapter_image: np.float32(pixels) / 255, HWC → NCHW.
        using var image = (pixels.to(float32) / 255.0f).permute(2, 0, 1).unsqueeze(0).contiguous();
        using var extension = new T2IAdapterDenoisingExtension([new T2IAdapterUnit(adapter, image, parity.Params.GetProperty("adapter_conditioning_scale").GetDouble())]);
        PipelineParityTests.AssertMatchesGoldens(parity, pipeline, [extension]);
    }

    /// <summary>
    /// The UNet the case's features feed: the fixture UNet (SD layout, default attention, no added embedding) whose block
    /// widths are the first features' widths and whose text width is the case's; the README's sd15 first when it fits, so a
    /// new fixture set needs no list here.
    /// </summary>
    private static string BaseUNetFolder(ParityCase c, IReadOnlyList<Tensor> features, long textWidth)
    {
        var fitting = Directory.GetDirectories(ParityFixtures.PathOf("models"))
            .OrderBy(model => Path.GetFileName(model) == "sd15" ? 0 : 1).ThenBy(model => model, StringComparer.Ordinal)
            .Select(model => Path.Combine(model, "unet"))
            .Where(unet => File.Exists(Path.Combine(unet, "config.json")))
            .Where(unet =>
            {
                var config = UNet2DConditionConfig.Load(unet);
                return config.InChannels == 4 && config.AttentionType == "default" && config.AdditionEmbedType is null
                    && config.CrossAttentionDim.Single == textWidth && config.BlockOutChannels.Count <= features.Count
                    && config.BlockOutChannels.Select((width, i) => features[i].shape[1] == width).All(fits => fits);
            })
            .ToList();
        Assert.True(fitting.Count > 0, $"{c.Name}: no fixture UNet fits the adapter");
        return fitting[0];
    }
}
