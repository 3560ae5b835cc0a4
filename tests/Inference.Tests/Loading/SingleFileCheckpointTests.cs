using System.Text.Json;
using Easel.Inference.Loading;
using Easel.Inference.Loading.SingleFile;
using Easel.Inference.Tests.Parity;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Tests.Loading;

/// <summary>Single-file checkpoints: family detection, pickle refusal, strictness (missing and unknown keys), ignored and real-file key variants.</summary>
public sealed class SingleFileCheckpointTests : IDisposable
{
    private readonly string _temp = Directory.CreateTempSubdirectory("easel-singlefile-").FullName;

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    public static TheoryData<string> Checkpoints => SingleFileFixtures.Names;

    private static SingleFileFixture Fixture(string name) => SingleFileFixtures.Named(name);

    private static SingleFileFixture FixtureOfPipeline(string pipelineClass)
    {
        var fixture = SingleFileFixtures.Checkpoints.FirstOrDefault(c => PipelineClassOf(c) == pipelineClass);
        Skip.If(fixture is null, $"No single-file fixture has the weights of a {pipelineClass}.");
        return fixture!;
    }

    private static string PipelineClassOf(SingleFileFixture fixture)
    {
        using var index = JsonDocument.Parse(File.ReadAllText(Path.Combine(ParityFixtures.PathOf(fixture.SameWeightsAs), "model_index.json")));
        return index.RootElement.GetProperty("_class_name").GetString()!;
    }

    /// <summary>The family a fixture must be detected as, told independently by its diffusers folder: pipeline class, then the text encoder's activation (OpenCLIP's gelu = SD2).</summary>
    private static ModelFamily ExpectedFamily(SingleFileFixture fixture)
    {
        var pipeline = PipelineClassOf(fixture);
        if (pipeline.StartsWith("StableDiffusionXL", StringComparison.Ordinal))
            return pipeline.Contains("Inpaint", StringComparison.Ordinal) ? ModelFamily.StableDiffusionXLInpainting : ModelFamily.StableDiffusionXL;
        using var textConfig = JsonDocument.Parse(File.ReadAllText(Path.Combine(ParityFixtures.PathOf(fixture.SameWeightsAs), "text_encoder", "config.json")));
        var sd2 = textConfig.RootElement.GetProperty("hidden_act").GetString() == "gelu";
        var inpaint = pipeline.Contains("Inpaint", StringComparison.Ordinal);
        return (sd2, inpaint) switch
        {
            (false, false) => ModelFamily.StableDiffusion1,
            (false, true) => ModelFamily.StableDiffusion1Inpainting,
            (true, false) => ModelFamily.StableDiffusion2,
            (true, true) => ModelFamily.StableDiffusion2Inpainting,
        };
    }

    [SkippableTheory]
    [MemberData(nameof(Checkpoints))]
    public void Open_DetectsTheFamilyOfEachFixtureFile(string name)
    {
        var fixture = Fixture(name);
        using var checkpoint = SingleFileCheckpoint.Open(fixture.FullPath);
        Assert.Equal(ExpectedFamily(fixture), checkpoint.Family);
    }

    [Theory]
    [InlineData("cond_stage_model.transformer.text_model.final_layer_norm.weight", 4, ModelFamily.StableDiffusion1)]
    [InlineData("cond_stage_model.transformer.text_model.final_layer_norm.weight", 9, ModelFamily.StableDiffusion1Inpainting)]
    [InlineData("cond_stage_model.model.transformer.resblocks.0.attn.in_proj_weight", 4, ModelFamily.StableDiffusion2)]
    [InlineData("cond_stage_model.model.transformer.resblocks.0.attn.in_proj_weight", 9, ModelFamily.StableDiffusion2Inpainting)]
    [InlineData("conditioner.embedders.1.model.transformer.resblocks.0.attn.in_proj_weight", 4, ModelFamily.StableDiffusionXL)]
    [InlineData("conditioner.embedders.1.model.transformer.resblocks.0.attn.in_proj_weight", 9, ModelFamily.StableDiffusionXLInpainting)]
    [InlineData("conditioner.embedders.0.model.transformer.resblocks.0.attn.in_proj_weight", 4, ModelFamily.StableDiffusionXLRefiner)]
    [InlineData("model.diffusion_model.label_emb.0.0.weight", 4, ModelFamily.StableDiffusionXL)]
    public void Detect_TellsTheFamilyFromKeysAndInputChannels(string key, long inChannels, ModelFamily expected)
    {
        var shapes = new Dictionary<string, long[]>
        {
            ["model.diffusion_model.input_blocks.0.0.weight"] = [320, inChannels, 3, 3],
            [key] = [8],
        };
        Assert.Equal(expected, FamilyDetector.Detect(shapes));
    }

    [Fact]
    public void Detect_FallsBackToUNetTraitsWithoutATextEncoder()
    {
        var sd2 = new Dictionary<string, long[]>
        {
            ["model.diffusion_model.input_blocks.0.0.weight"] = [320, 4, 3, 3],
            ["model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight"] = [320, 1024],
        };
        Assert.Equal(ModelFamily.StableDiffusion2, FamilyDetector.Detect(sd2));
        sd2["model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight"] = [320, 768];
        Assert.Equal(ModelFamily.StableDiffusion1, FamilyDetector.Detect(sd2));
    }

    [Fact]
    public void Detect_RefusesAFileWithoutAnLdmUNet()
    {
        var diffusers = new Dictionary<string, long[]> { ["conv_in.weight"] = [320, 4, 3, 3], ["down_blocks.0.resnets.0.conv1.weight"] = [320, 320, 3, 3] };
        var error = Assert.Throws<InvalidDataException>(() => FamilyDetector.Detect(diffusers));
        Assert.Contains("model.diffusion_model.input_blocks.0.0.weight", error.Message);
    }

    [Theory]
    [InlineData("model.ckpt")]
    [InlineData("model.pt")]
    [InlineData("model.bin")]
    public void Open_RefusesPickleFilesByExtensionSayingWhy(string fileName)
    {
        var path = Path.Combine(_temp, fileName);
        File.WriteAllBytes(path, [0x80, 0x02, 0x7d, 0x71, 0x00, 0x2e]); // protocol-2 pickle of {}
        var error = Assert.Throws<NotSupportedException>(() => SingleFileCheckpoint.Open(path));
        Assert.Contains("pickle", error.Message);
        Assert.Contains("execute arbitrary code", error.Message);
    }

    [Theory]
    [InlineData(new byte[] { 0x80, 0x04, 0x95, 0x10, 0, 0, 0, 0, 0, 0, 0, 0x7d, 0x94, 0x2e })] // raw pickle (protocol 4)
    [InlineData(new byte[] { (byte)'P', (byte)'K', 3, 4, 0, 0, 0, 0, 0, 0, 0, 0 })] // torch.save zip archive
    public void Open_RefusesPickleContentBehindASafetensorsName(byte[] content)
    {
        var path = Path.Combine(_temp, "renamed.safetensors");
        File.WriteAllBytes(path, content);
        var error = Assert.Throws<NotSupportedException>(() => SingleFileCheckpoint.Open(path));
        Assert.Contains("execute arbitrary code", error.Message);
    }

    [SkippableFact]
    public void LoadUNet_FailsNamingAMissingKey()
    {
        var fixture = FixtureOfPipeline("StableDiffusionPipeline");
        var path = Rewrite(fixture, entries => entries.RemoveAll(e => e.Name == "model.diffusion_model.out.2.weight"));
        using var checkpoint = SingleFileCheckpoint.Open(path);
        var error = Assert.Throws<CheckpointMismatchException>(() => checkpoint.LoadUNet(ParityFixtures.PathOf(fixture.SameWeightsAs)));
        Assert.Equal(["conv_out.weight"], error.Missing);
        Assert.Empty(error.Unexpected);
        Assert.Contains("conv_out.weight", error.Message);
    }

    [SkippableFact]
    public void LoadVae_FailsNamingAMissingKey()
    {
        var fixture = FixtureOfPipeline("StableDiffusionPipeline");
        var path = Rewrite(fixture, entries => entries.RemoveAll(e => e.Name == "first_stage_model.decoder.mid.attn_1.q.weight"));
        using var checkpoint = SingleFileCheckpoint.Open(path);
        var error = Assert.Throws<CheckpointMismatchException>(() => checkpoint.LoadVae(ParityFixtures.PathOf(fixture.SameWeightsAs)));
        Assert.Equal(["decoder.mid_block.attentions.0.to_q.weight"], error.Missing);
    }

    [SkippableFact]
    public void LoadUNet_FailsNamingAnUnknownKeyInsideTheUNet()
    {
        var fixture = FixtureOfPipeline("StableDiffusionPipeline");
        const string extra = "model.diffusion_model.input_blocks.1.0.extra_layers.0.weight";
        var path = Rewrite(fixture, entries => entries.Add(new SafeTensorsWriter.Entry(extra, ScalarType.Float32, [2], new byte[8])));
        using var checkpoint = SingleFileCheckpoint.Open(path);
        var error = Assert.Throws<CheckpointMismatchException>(() => checkpoint.LoadUNet(ParityFixtures.PathOf(fixture.SameWeightsAs)));
        Assert.Equal([extra], error.Unexpected);
        Assert.Empty(error.Missing);
        Assert.Contains(extra, error.Message);
    }

    [SkippableFact]
    public void Open_FailsNamingAKeyThatBelongsToNoComponent()
    {
        var fixture = FixtureOfPipeline("StableDiffusionPipeline");
        const string extra = "control_model.zero_convs.0.0.weight";
        var path = Rewrite(fixture, entries => entries.Add(new SafeTensorsWriter.Entry(extra, ScalarType.Float32, [2], new byte[8])));
        var error = Assert.Throws<CheckpointMismatchException>(() => SingleFileCheckpoint.Open(path));
        Assert.Equal([extra], error.Unexpected);
        Assert.Contains(extra, error.Message);
    }

    [SkippableFact]
    public void Open_IgnoresTheExtraKeysRealFilesCarry()
    {
        var fixture = FixtureOfPipeline("StableDiffusionPipeline");
        string[] extras = ["betas", "alphas_cumprod_prev", "posterior_variance", "model_ema.num_updates", "model_ema.diffusion_modelinput_blocks00weight",
            "cond_stage_model.transformer.text_model.embeddings.position_ids", "logvar"];
        var path = Rewrite(fixture, entries => entries.AddRange(extras.Where(x => entries.All(e => e.Name != x))
            .Select(x => new SafeTensorsWriter.Entry(x, ScalarType.Float32, [1], new byte[4]))));
        using var checkpoint = SingleFileCheckpoint.Open(path);
        using var unet = checkpoint.LoadUNet(ParityFixtures.PathOf(fixture.SameWeightsAs));
        using var encoder = checkpoint.LoadTextEncoder(ParityFixtures.PathOf(fixture.SameWeightsAs));
    }

    [SkippableFact]
    public void LoadTextEncoder2_TransposesAnOpenClipTextProjectionParameter()
    {
        // Real SDXL files store OpenCLIP's text_projection as a [width, projection] parameter (x @ P); transformers
        // keeps a Linear weight [projection, width]. The fixture stores the Linear form; rewrite it the real way.
        var fixture = FixtureOfPipeline("StableDiffusionXLPipeline");
        const string linear = "conditioner.embedders.1.model.text_projection.weight";
        var path = Rewrite(fixture, entries =>
        {
            var stored = entries.Single(e => e.Name == linear);
            entries.Remove(stored);
            using var weight = torch.tensor(MemoryMarshalFloats(stored.Data), dtype: ScalarType.Float32).reshape(stored.Shape);
            using var parameter = weight.t().contiguous();
            entries.Add(SafeTensorsWriter.From("conditioner.embedders.1.model.text_projection", parameter));
            entries.Add(new SafeTensorsWriter.Entry("conditioner.embedders.1.model.logit_scale", ScalarType.Float32, [], new byte[4]));
        });
        var baseConfig = ParityFixtures.PathOf(fixture.SameWeightsAs);
        using var checkpoint = SingleFileCheckpoint.Open(path);
        using var fromSingleFile = checkpoint.LoadTextEncoder2(baseConfig);
        using var fromFolder = Easel.Inference.Text.ClipTextModelWithProjection.FromPretrained(Path.Combine(baseConfig, "text_encoder_2"));
        var expected = fromFolder.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, parameter) in fromSingleFile.named_parameters())
            Assert.True(parameter.allclose(expected[name], 0, 0), $"{name} differs from the diffusers folder's");
    }

    [SkippableFact]
    public void LoadTextEncoder_DropsOpenClipLayersBeyondTheSd2Config()
    {
        // diffusers' SD2 text encoder stops at the penultimate OpenCLIP layer; the real file still has the last one.
        var fixture = FixtureOfPipeline("StableDiffusionPipeline");
        if (ExpectedFamily(fixture) != ModelFamily.StableDiffusion2)
            fixture = SingleFileFixtures.Checkpoints.FirstOrDefault(c => PipelineClassOf(c) == "StableDiffusionPipeline" && ExpectedFamily(c) == ModelFamily.StableDiffusion2)
                      ?? throw new SkipException("No SD2 single-file fixture.");
        var path = Rewrite(fixture, entries =>
        {
            var layers = entries.Where(e => e.Name.StartsWith("cond_stage_model.model.transformer.resblocks.", StringComparison.Ordinal))
                .Select(e => int.Parse(e.Name.Split('.')[4], System.Globalization.CultureInfo.InvariantCulture)).Max();
            var prefix = $"cond_stage_model.model.transformer.resblocks.{layers}.";
            entries.AddRange(entries.Where(e => e.Name.StartsWith(prefix, StringComparison.Ordinal)).ToList()
                .Select(e => e with { Name = $"cond_stage_model.model.transformer.resblocks.{layers + 1}." + e.Name[prefix.Length..] }));
            entries.Add(new SafeTensorsWriter.Entry("cond_stage_model.model.text_projection", ScalarType.Float32, [1, 1], new byte[4]));
        });
        using var checkpoint = SingleFileCheckpoint.Open(path);
        using var encoder = checkpoint.LoadTextEncoder(ParityFixtures.PathOf(fixture.SameWeightsAs));
    }

    [SkippableTheory]
    [MemberData(nameof(Checkpoints))]
    public void LoadComponents_LoadsTheModelsTheFamilyHas(string name)
    {
        var fixture = Fixture(name);
        var baseConfig = ParityFixtures.PathOf(fixture.SameWeightsAs);
        using var checkpoint = SingleFileCheckpoint.Open(fixture.FullPath);
        using var components = checkpoint.LoadComponents(baseConfig);
        Assert.Equal(checkpoint.Family.HasTextEncoder(), components.TextEncoder is not null);
        Assert.Equal(checkpoint.Family.HasTextEncoder2(), components.TextEncoder2 is not null);
        Assert.Equal(checkpoint.Family.IsInpainting() ? 9 : 4, components.UNet.Config.InChannels);
        Assert.True(Directory.Exists(SingleFileCheckpoint.ComponentFolder(baseConfig, "tokenizer")));
        Assert.True(File.Exists(Path.Combine(SingleFileCheckpoint.ComponentFolder(baseConfig, "scheduler"), "scheduler_config.json")));
    }

    [SkippableTheory]
    [MemberData(nameof(Checkpoints))]
    public void Loading_ReadsEachStoredTensorOnceAndReleasesItBeforeTheNext(string name)
    {
        var fixture = Fixture(name);
        var baseConfig = ParityFixtures.PathOf(fixture.SameWeightsAs);
        using var checkpoint = SingleFileCheckpoint.Open(fixture.FullPath);
        var unetConfig = Easel.Inference.Models.UNet.UNet2DConditionConfig.Load(SingleFileCheckpoint.ComponentFolder(baseConfig, "unet"));
        var unetSource = new ObservingSource(checkpoint.UNetWeights(unetConfig));
        using (Easel.Inference.Models.UNet.UNet2DConditionModel.FromWeights(unetConfig, unetSource)) { }
        Assert.Equal(checkpoint.Shapes.Keys.Count(k => k.StartsWith("model.diffusion_model.", StringComparison.Ordinal)), unetSource.Reads);
        Assert.True(unetSource.ReleasedBeforeNextRead, "a stored tensor was still alive when the next one was read");

        if (!checkpoint.Family.HasTextEncoder())
            return;
        var textConfig = ConfigJson.Read<Easel.Inference.Text.ClipTextConfig>(Path.Combine(SingleFileCheckpoint.ComponentFolder(baseConfig, "text_encoder"), "config.json"));
        var textSource = new ObservingSource(checkpoint.TextEncoderWeights(textConfig));
        using (Easel.Inference.Text.ClipTextModel.FromWeights(textConfig, textSource)) { }
        // SD2's fused in_proj tensors are read once for their three targets.
        var textKeys = checkpoint.Shapes.Keys.Count(k => k.StartsWith("cond_stage_model.", StringComparison.Ordinal) || k.StartsWith("conditioner.embedders.0.", StringComparison.Ordinal));
        var skipped = checkpoint.Shapes.Keys.Count(k => k.EndsWith(".position_ids", StringComparison.Ordinal) && (k.StartsWith("cond_stage_model.", StringComparison.Ordinal) || k.StartsWith("conditioner.embedders.0.", StringComparison.Ordinal)));
        Assert.Equal(textKeys - skipped, textSource.Reads);
        Assert.True(textSource.ReleasedBeforeNextRead, "a stored tensor was still alive when the next one was read");
    }

    /// <summary>Counts reads and checks that the loader released the previous stored tensor before reading the next.</summary>
    private sealed class ObservingSource(IWeightSource inner) : IWeightSource
    {
        private Tensor? _previous;

        public int Reads { get; private set; }
        public bool ReleasedBeforeNextRead { get; private set; } = true;
        public string Component => inner.Component;

        public IEnumerable<StoredTensor> Tensors()
        {
            foreach (var stored in inner.Tensors())
            {
                yield return stored with
                {
                    Read = () =>
                    {
                        if (_previous is { IsInvalid: false })
                            ReleasedBeforeNextRead = false;
                        Reads++;
                        _previous = stored.Read();
                        return _previous;
                    },
                };
            }
        }
    }

    [Theory]
    [InlineData(ModelFamily.StableDiffusion1, 4, 768)]
    [InlineData(ModelFamily.StableDiffusion1Inpainting, 9, 768)]
    [InlineData(ModelFamily.StableDiffusion2, 4, 1024)]
    [InlineData(ModelFamily.StableDiffusionXL, 4, 2048)]
    public void DefaultConfigs_AreTheRealFamilyConfigs(ModelFamily family, int inChannels, int contextWidth)
    {
        var unet = DefaultConfigs.UNet(family);
        Assert.Equal(inChannels, unet.InChannels);
        Assert.Equal(contextWidth, unet.CrossAttentionDim.For(0, 1));
        unet.Validate();
        DefaultConfigs.Vae(family).Validate();
        Assert.Equal(family == ModelFamily.StableDiffusion2 ? 1024 : 768, DefaultConfigs.TextEncoder(family).HiddenSize);
        if (family.HasTextEncoder2())
            Assert.Equal(1280, DefaultConfigs.TextEncoder2(family).HiddenSize);
    }

    private static float[] MemoryMarshalFloats(byte[] data) => System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(data).ToArray();

    /// <summary>A copy of the fixture file with <paramref name="edit"/> applied to its entries.</summary>
    private string Rewrite(SingleFileFixture fixture, Action<List<SafeTensorsWriter.Entry>> edit)
    {
        List<SafeTensorsWriter.Entry> entries;
        using (var file = SafeTensorsFile.Open(fixture.FullPath))
            entries = SafeTensorsWriter.ReadAll(file);
        edit(entries);
        var path = Path.Combine(_temp, $"{fixture.Name}-{Guid.NewGuid():N}.safetensors");
        SafeTensorsWriter.Write(path, entries);
        return path;
    }
}
