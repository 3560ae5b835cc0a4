using Easel.Inference.Customization.Lora;
using Easel.Inference.Pipelines;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Tests.Parity;

/// <summary>
/// LoRA files (kohya, diffusers, PEFT) applied to a loaded pipeline against diffusers goldens: the UNet noise prediction and the
/// text encoder's last hidden state with the LoRA at the case's scale, both beside the layers (unmerged) and merged into the
/// weights; after the activation is disposed the outputs are the base model's again, bit for bit. The pipeline cases of the
/// LoRA family run txt2img with each file applied.
/// </summary>
[Trait("Category", "Parity")]
public sealed class LoraParityTests
{
    public static TheoryData<string, string, bool> ModelCases
    {
        get
        {
            var data = new TheoryData<string, string, bool>();
            foreach (var info in ParityFixtures.Cases.Where(c => c.Kind == "lora"))
            {
                using var parity = ParityFixtures.Load(info.Name);
                foreach (var file in parity.Params.GetProperty("files").EnumerateObject())
                {
                    data.Add(info.Name, file.Value.GetString()!, false);
                    data.Add(info.Name, file.Value.GetString()!, true);
                }
            }
            return data;
        }
    }

    public static TheoryData<string, string, bool> PipelineCases
    {
        get
        {
            var data = new TheoryData<string, string, bool>();
            foreach (var info in ParityFixtures.Cases.Where(c => c.Kind == "pipeline" && c.Family == "lora"))
            {
                using var parity = ParityFixtures.Load(info.Name);
                foreach (var file in Directory.GetFiles(parity.ModelDirs[1], "*.safetensors").Order(StringComparer.Ordinal))
                {
                    data.Add(info.Name, Path.GetFileName(file), false);
                    data.Add(info.Name, Path.GetFileName(file), true);
                }
            }
            return data;
        }
    }

    [Theory]
    [MemberData(nameof(ModelCases))]
    public void Lora_file_gives_diffusers_outputs_and_disposing_restores_the_base_outputs(string caseName, string file, bool merge)
    {
        using var parity = ParityFixtures.Load(caseName);
        var tolerance = Tolerance.For(parity.Info.Kind);
        var p = parity.Params;
        // The case's model folder is models/lora_{base}: the LoRA was trained on models/{base}.
        var baseModel = ParityFixtures.PathOf(Path.Combine("models", Path.GetFileName(parity.ModelDir)["lora_".Length..]));
        using var pipeline = StableDiffusionPipeline.Load(baseModel, new PipelineOptions("cpu", "float32"));
        using var adapter = LoraFile.Load(parity.PathOf(file));
        var targets = p.GetProperty("targets");
        var expectedCount = targets.GetProperty("unet").GetArrayLength() + targets.GetProperty("text_encoder").GetArrayLength();

        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var (baseNoise, baseHidden) = Outputs(parity, pipeline);
        tolerance.AssertClose(parity.Tensor("out.unet_noise_pred_no_lora"), baseNoise, "unet_noise_pred_no_lora");
        tolerance.AssertClose(parity.Tensor("out.text_encoder_last_hidden_state_no_lora"), baseHidden, "text_encoder_last_hidden_state_no_lora");

        using (var activation = LoraActivation.Apply(pipeline, [(adapter, p.GetProperty("scale").GetDouble())], merge))
        {
            Assert.Equal(expectedCount, activation.Mappings.Count);
            var expectedModules = targets.GetProperty("unet").EnumerateArray().Select(t => (LoraAdapter.UNet, t.GetString()!))
                .Concat(targets.GetProperty("text_encoder").EnumerateArray().Select(t => (LoraAdapter.TextEncoder, t.GetString()!)))
                .Order().ToList();
            Assert.Equal(expectedModules, activation.Mappings.Select(m => (m.Component, m.Module)).Order().ToList());
            var (noise, hidden) = Outputs(parity, pipeline);
            tolerance.AssertClose(parity.Tensor("out.unet_noise_pred"), noise, $"{file} unet_noise_pred");
            tolerance.AssertClose(parity.Tensor("out.text_encoder_last_hidden_state"), hidden, $"{file} text_encoder_last_hidden_state");
        }

        var (afterNoise, afterHidden) = Outputs(parity, pipeline);
        Assert.True(afterNoise.equal(baseNoise).all().item<bool>(), "the UNet's output after disposing the activation differs from the base model's");
        Assert.True(afterHidden.equal(baseHidden).all().item<bool>(), "the text encoder's output after disposing the activation differs from the base model's");
    }

    [Theory]
    [MemberData(nameof(PipelineCases))]
    public void Pipeline_with_the_lora_matches_diffusers(string caseName, string file, bool merge)
    {
        using var parity = ParityFixtures.Load(caseName);
        using var pipeline = StableDiffusionPipeline.Load(parity.ModelDirs[0], new PipelineOptions("cpu", "float32"));
        using var adapter = LoraFile.Load(Path.Combine(parity.ModelDirs[1], file));
        using (LoraActivation.Apply(pipeline, [(adapter, parity.Params.GetProperty("lora_scale").GetDouble())], merge))
            PipelineParityTests.AssertMatchesGoldens(parity, pipeline);
    }

    /// <summary>The UNet's noise prediction and the text encoder's last hidden state on the case's inputs.</summary>
    private static (Tensor NoisePred, Tensor LastHiddenState) Outputs(ParityCase parity, StableDiffusionPipeline pipeline)
    {
        var textEncoder = ((ClipPromptConditioner)pipeline.Conditioner).TextEncoder;
        var noise = pipeline.UNet.forward(parity.Tensor("in.sample"), parity.Tensor("in.timestep"), parity.Tensor("in.encoder_hidden_states"));
        using var text = textEncoder.forward(parity.Tensor("in.input_ids"));
        return (noise, text.LastHiddenState.clone());
    }
}
