using System.Reflection;
using System.Runtime.Loader;
using Easel.Inference.Loading;
using Easel.Inference.Loading.SingleFile;
using Easel.Inference.Pipelines;
using Easel.Inference.Schedulers;
using Easel.Inference.Tests.Parity;
using Easel.Inference.Text;

namespace Easel.Inference.Tests.Loading;

/// <summary>
/// What single files loaded without a config folder get from <see cref="DefaultConfigs"/>: the releases' tokenizers,
/// scheduler configs and model_index values (a real-architecture pipeline is gigabytes, so the pieces are tested
/// directly); that a file whose architecture is not its family's release fails naming keys and shapes; and that
/// describing a file needs no TorchSharp.
/// </summary>
public sealed class SingleFileDefaultsTests
{
    private const string RealVocabCase = "tokenizer_clip_full";

    public static TheoryData<string> Checkpoints => SingleFileFixtures.Names;

    private static SingleFileFixture Fixture(string name) => SingleFileFixtures.Named(name);

    /// <summary>SD 1.x and SDXL's tokenizer pad with &lt;|endoftext|&gt; (pad_eos), SD 2.x and SDXL's tokenizer_2 with "!" (pad_bang).</summary>
    [SkippableTheory]
    [InlineData(ModelFamily.StableDiffusion1, false, "pad_eos")]
    [InlineData(ModelFamily.StableDiffusion1Inpainting, false, "pad_eos")]
    [InlineData(ModelFamily.StableDiffusion2, false, "pad_bang")]
    [InlineData(ModelFamily.StableDiffusion2Inpainting, false, "pad_bang")]
    [InlineData(ModelFamily.StableDiffusionXL, false, "pad_eos")]
    [InlineData(ModelFamily.StableDiffusionXL, true, "pad_bang")]
    [InlineData(ModelFamily.StableDiffusionXLInpainting, true, "pad_bang")]
    public void BuiltInTokenizers_MatchTransformersOnTheRealVocabulary(ModelFamily family, bool second, string variant)
    {
        Skip.IfNot(ParityFixtures.Cases.Any(c => c.Name == RealVocabCase), $"the fixture set has no {RealVocabCase} case");
        using var parity = ParityFixtures.Load(RealVocabCase);
        var prompts = parity.Params.GetProperty("prompts").EnumerateArray().Select(p => p.GetString()!).ToList();
        var tokenizer = second ? DefaultConfigs.Tokenizer2(family) : DefaultConfigs.Tokenizer(family);
        Assert.Equal(49408, tokenizer.VocabSize);
        TokenizerParityTests.AssertVariant(parity, variant, tokenizer, prompts);
    }

    [SkippableFact]
    public void BuiltInSd1Tokenizer_EqualsTheFixtureVocabularyFolder()
    {
        var folder = ParityFixtures.PathOf("vocab/clip_bpe_49408");
        Skip.IfNot(Directory.Exists(folder), "the fixture set has no vocab/clip_bpe_49408");
        var reference = ClipTokenizer.FromPretrained(folder);
        var builtIn = DefaultConfigs.Tokenizer(ModelFamily.StableDiffusion1);
        string[] prompts =
        [
            "", "a photo of an astronaut riding a horse on mars", "A RED Circle!!! and a blue square, 4k", "café naïve 東京 🐱",
            "<|endoftext|> literal specials <|startoftext|>", string.Join(' ', Enumerable.Repeat("long prompt", 60)),
        ];
        Assert.Equal((reference.BosTokenId, reference.EosTokenId, reference.PadTokenId, reference.ModelMaxLength),
            (builtIn.BosTokenId, builtIn.EosTokenId, builtIn.PadTokenId, builtIn.ModelMaxLength));
        foreach (var prompt in prompts)
        {
            Assert.Equal(reference.Encode(prompt).InputIds, builtIn.Encode(prompt).InputIds);
            Assert.Equal(reference.EncodeUntruncated(prompt), builtIn.EncodeUntruncated(prompt));
        }
    }

    [Fact]
    public void BuiltInSd2Tokenizer_PadsWithBangAsIdZero()
    {
        var tokenizer = DefaultConfigs.Tokenizer(ModelFamily.StableDiffusion2);
        Assert.Equal(("!", 0), (tokenizer.PadToken, tokenizer.PadTokenId));
        var ids = tokenizer.Encode("hello!!!").InputIds;
        // "!" is an added token: each literal one is id 0, not a BPE merge such as "!!!</w>".
        Assert.Equal(new long[] { 49406, tokenizer.IdOf("hello</w>"), 0, 0, 0, 49407 }, ids.Take(6));
        Assert.All(ids.Skip(6), id => Assert.Equal(0L, id));
    }

    [Theory]
    [InlineData(ModelFamily.StableDiffusion1, "PNDMScheduler", "epsilon", 961)]
    [InlineData(ModelFamily.StableDiffusion1Inpainting, "PNDMScheduler", "epsilon", 961)]
    [InlineData(ModelFamily.StableDiffusion2, "DDIMScheduler", "v_prediction", 961)]
    [InlineData(ModelFamily.StableDiffusion2Inpainting, "DDIMScheduler", "v_prediction", 961)]
    [InlineData(ModelFamily.StableDiffusionXL, "EulerDiscreteScheduler", "epsilon", 961)]
    [InlineData(ModelFamily.StableDiffusionXLInpainting, "EulerDiscreteScheduler", "epsilon", 961)]
    public void BuiltInSchedulerConfigs_AreTheReleases(ModelFamily family, string className, string predictionType, int firstOf25Steps)
    {
        var config = DefaultConfigs.Scheduler(family);
        Assert.Equal((className, predictionType), (config.ClassName, config.PredictionType));
        Assert.Equal((1000, 0.00085, 0.012, "scaled_linear", 1), (config.NumTrainTimesteps, config.BetaStart, config.BetaEnd, config.BetaSchedule, config.StepsOffset));
        Assert.Equal(false, config.ClipSample);
        Assert.Equal(false, config.SetAlphaToOne);
        using var scheduler = SchedulerRegistry.FromConfig(config);
        Assert.Equal(className, scheduler.ClassName);
        // Leading spacing with steps_offset 1 (SD 2.1's config leaves timestep_spacing to DDIM's default, leading).
        scheduler.SetTimesteps(25);
        Assert.Equal(firstOf25Steps, (int)scheduler.Timesteps[0].to(TorchSharp.torch.float64).item<double>());
        if (className == "PNDMScheduler")
            Assert.True(config.SkipPrkSteps);
        if (className == "EulerDiscreteScheduler")
            Assert.Equal(("leading", "linear", false), (config.TimestepSpacing, config.InterpolationType, config.UseKarrasSigmas));
    }

    [Theory]
    [InlineData(ModelFamily.StableDiffusion1, "StableDiffusionPipeline", null, null)]
    [InlineData(ModelFamily.StableDiffusion2, "StableDiffusionPipeline", null, null)]
    [InlineData(ModelFamily.StableDiffusionXL, "StableDiffusionXLPipeline", true, false)]
    [InlineData(ModelFamily.StableDiffusionXLInpainting, "StableDiffusionXLPipeline", true, false)]
    public void BuiltInModelIndex_HasTheReleasesValues(ModelFamily family, string className, bool? forceZeros, bool? aesthetics)
    {
        var index = DefaultConfigs.Index(family);
        Assert.Equal((className, forceZeros, aesthetics), (index.ClassName, index.ForceZerosForEmptyPrompt, index.RequiresAestheticsScore));
        Assert.Contains("tokenizer", index.Components);
        Assert.Equal(family.HasTextEncoder2(), index.Components.Contains("tokenizer_2"));
    }

    [Fact]
    public void BuiltInConfigSource_ServesTheFamilysPieces()
    {
        var sdxl = new BuiltInConfigSource(ModelFamily.StableDiffusionXL);
        Assert.Equal("<|endoftext|>", sdxl.Tokenizer()!.PadToken);
        Assert.Equal("!", sdxl.Tokenizer2()!.PadToken);
        Assert.Equal("EulerDiscreteScheduler", sdxl.Scheduler().ClassName);
        Assert.Equal(9, new BuiltInConfigSource(ModelFamily.StableDiffusion2Inpainting).UNet().InChannels);
        Assert.Null(new BuiltInConfigSource(ModelFamily.StableDiffusion1).Tokenizer2());
    }

    [Fact]
    public void BuiltInConfigSource_RefusesTheSdxlRefinerSayingWhatToPass()
    {
        Assert.False(ModelFamily.StableDiffusionXLRefiner.HasBuiltInConfigs());
        var error = Assert.Throws<NotSupportedException>(() => new BuiltInConfigSource(ModelFamily.StableDiffusionXLRefiner));
        Assert.Contains("StableDiffusionXLRefiner", error.Message);
        Assert.Contains("config folder", error.Message);
    }

    /// <summary>The fixture files are tiny models: their tensors cannot fit the real releases' configs.</summary>
    [SkippableTheory]
    [MemberData(nameof(Checkpoints))]
    public void LoadSingleFile_WithoutConfigFolder_FailsNamingTheKeysThatDoNotFitTheRelease(string name)
    {
        var fixture = Fixture(name);
        var error = Assert.Throws<InvalidDataException>(() =>
            StableDiffusionPipeline.LoadSingleFile(fixture.FullPath, configFolder: null, new PipelineOptions("cpu", "float32")));
        var mismatch = Assert.IsType<CheckpointMismatchException>(error.InnerException);
        Assert.NotEmpty(mismatch.Missing.Concat(mismatch.Unexpected).Concat(mismatch.ShapeMismatches));
        Assert.Contains(Path.GetFileName(fixture.FullPath), error.Message);
        Assert.Contains("built-in", error.Message);
        Assert.Contains("config folder", error.Message);
        if (mismatch.ShapeMismatches.Count > 0)
            Assert.Contains(mismatch.ShapeMismatches[0], error.Message);
    }

    /// <summary>
    /// Only the VAE is built in the test above; the other components' key conversion under a config that does not fit
    /// must still name targets (for the loader to report) rather than throw — checked without building the models.
    /// </summary>
    [SkippableTheory]
    [MemberData(nameof(Checkpoints))]
    public void KeyConversion_UnderBuiltInConfigsThatDoNotFit_ListsEveryTensor(string name)
    {
        var fixture = Fixture(name);
        using var checkpoint = SingleFileCheckpoint.Open(fixture.FullPath);
        var family = checkpoint.Family;
        var listed = checkpoint.UNetWeights(DefaultConfigs.UNet(family)).Tensors().Count()
                     + checkpoint.VaeWeights(DefaultConfigs.Vae(family)).Tensors().Count()
                     + (family.HasTextEncoder() ? checkpoint.TextEncoderWeights(DefaultConfigs.TextEncoder(family)).Tensors().Count() : 0)
                     + (family.HasTextEncoder2() ? checkpoint.TextEncoder2Weights(DefaultConfigs.TextEncoder2(family)).Tensors().Count() : 0);
        Assert.True(listed > 0);
    }

    [SkippableTheory]
    [MemberData(nameof(Checkpoints))]
    public void SingleFileHeader_TellsTheFamilyLikeOpen(string name)
    {
        var fixture = Fixture(name);
        var header = SingleFileHeader.Read(fixture.FullPath);
        using var checkpoint = SingleFileCheckpoint.Open(fixture.FullPath);
        Assert.Equal(checkpoint.Family, header.Family);
        Assert.Equal(checkpoint.Family.IsInpainting(), header.IsInpainting);
        Assert.True(header.HasBuiltInConfigs);
        Assert.Equal(checkpoint.Shapes.Keys.Order(), header.Shapes.Keys.Order());
    }

    /// <summary>
    /// Describing a file must not load libtorch (the API process describes models it never runs): the header is read
    /// in a load context where TorchSharp cannot be resolved at all. Opening the checkpoint there fails, which shows
    /// the context does refuse it.
    /// </summary>
    [SkippableTheory]
    [MemberData(nameof(Checkpoints))]
    public void SingleFileHeader_ReadsWithoutTorchSharp(string name)
    {
        var fixture = Fixture(name);
        var context = new WithoutTorchSharp(typeof(SingleFileHeader).Assembly.Location);
        try
        {
            var assembly = context.LoadFromAssemblyPath(typeof(SingleFileHeader).Assembly.Location);
            var headerType = assembly.GetType(typeof(SingleFileHeader).FullName!, throwOnError: true)!;
            var header = headerType.GetMethod(nameof(SingleFileHeader.Read), [typeof(string)])!.Invoke(null, [fixture.FullPath])!;
            var family = headerType.GetProperty(nameof(SingleFileHeader.Family))!.GetValue(header)!.ToString();
            var inpainting = (bool)headerType.GetProperty(nameof(SingleFileHeader.IsInpainting))!.GetValue(header)!;
            Assert.Empty(context.Refused);
            Assert.Equal(SingleFileHeader.Read(fixture.FullPath).Family.ToString(), family);
            Assert.Equal(SingleFileHeader.Read(fixture.FullPath).IsInpainting, inpainting);

            var checkpointType = assembly.GetType(typeof(SingleFileCheckpoint).FullName!, throwOnError: true)!;
            Assert.ThrowsAny<Exception>(() => checkpointType.GetMethod(nameof(SingleFileCheckpoint.Open))!.Invoke(null, [fixture.FullPath]));
            Assert.NotEmpty(context.Refused);
        }
        finally
        {
            context.Unload();
        }
    }

    /// <summary>Loads Easel.Inference on its own and refuses TorchSharp; framework assemblies come from the default context.</summary>
    private sealed class WithoutTorchSharp(string inferencePath) : AssemblyLoadContext("without TorchSharp", isCollectible: true)
    {
        public List<string> Refused { get; } = [];

        protected override Assembly? Load(AssemblyName name)
        {
            if (name.Name == "Easel.Inference")
                return LoadFromAssemblyPath(inferencePath);
            if (name.Name?.StartsWith("TorchSharp", StringComparison.Ordinal) == true)
            {
                Refused.Add(name.FullName);
                throw new FileNotFoundException($"{name.Name} is not available in this load context.");
            }
            return null;
        }
    }
}
