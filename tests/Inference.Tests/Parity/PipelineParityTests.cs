using System.Text.Json;
using Easel.Inference.Pipelines;
using Easel.Inference.Pipelines.Denoising;
using Easel.Inference.Schedulers;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Tests.Parity;

/// <summary>
/// Full pipeline runs against diffusers: given the case's initial latents and its recorded noise tape, the final
/// latents, the decoded image and the PNG must match the goldens. The request kind follows the case's inputs:
/// in.init_image → image-to-image, in.image + in.mask → inpainting, otherwise text-to-image.
/// </summary>
[Trait("Category", "Parity")]
public sealed class PipelineParityTests
{
    public static TheoryData<string> Cases => ParityFixtures.PlainPipelineCases();

    /// <summary>Inputs the pipeline knows how to take; a case with any other in.* tensor needs a method not built yet.</summary>
    private static readonly HashSet<string> KnownInputs = ["in.latents", "in.init_image", "in.image", "in.mask"];

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void PipelineMatchesDiffusers(string caseName) => AssertPipelineMatches(caseName, new PipelineOptions("cpu", "float32"));

    /// <summary>The case's final latents, image and PNG from a pipeline loaded with <paramref name="options"/>.</summary>
    internal static void AssertPipelineMatches(string caseName, PipelineOptions options)
    {
        using var parity = ParityFixtures.Load(caseName);
        var reason = UnsupportedReason(parity);
        Skip.If(reason is not null, reason);
        using var pipeline = DiffusionPipelines.Load(parity.ModelDir, options);
        AssertMatchesGoldens(parity, (StableDiffusionPipeline)pipeline);
    }

    /// <summary>
    /// Runs the case's request — with <paramref name="extensions"/>, the method a method-family case runs — from its initial
    /// latents and noise tape and compares latents, image and PNG.
    /// </summary>
    internal static void AssertMatchesGoldens(ParityCase parity, StableDiffusionPipeline pipeline, IReadOnlyList<IDenoisingExtension>? extensions = null)
    {
        var p = parity.Params;
        var scheduler = SchedulerRegistry.CreateForClass(p.GetProperty("scheduler_class").GetString()!,
            SchedulerConfig.Parse(p.GetProperty("scheduler_config").GetRawText()));
        var tolerance = Tolerance.For("pipeline");

        using var scope = torch.NewDisposeScope();
        var request = RequestFor(parity) with { Extensions = extensions ?? [] };
        var latents = pipeline.GenerateLatents(request, scheduler, new TapeNoiseSource(parity.RngTape()),
            parity.Has("in.latents") ? parity.Tensor("in.latents") : null);
        tolerance.AssertClose(parity.Tensor("out.final_latents"), latents, "final_latents");

        var image = pipeline.Decode(latents);
        tolerance.AssertClose(parity.Tensor("out.image_np"), image, "image_np");

        var pngPath = parity.PathOf(Path.Combine("cases", parity.Name + ".png"));
        if (File.Exists(pngPath))
        {
            var ours = Imaging.ImageTensors.ToImages(image)[0];
            using var golden = Image.Load<Rgb24>(pngPath);
            var worst = 0;
            for (var y = 0; y < golden.Height; y++)
                for (var x = 0; x < golden.Width; x++)
                {
                    var g = golden[x, y];
                    var offset = (y * ours.Width + x) * 3;
                    worst = Math.Max(worst, Math.Max(Math.Abs(g.R - ours.Rgb[offset]), Math.Max(Math.Abs(g.G - ours.Rgb[offset + 1]), Math.Abs(g.B - ours.Rgb[offset + 2]))));
                }
            Assert.True(worst <= 1, $"PNG differs from the golden by up to {worst} levels");
        }
    }

    /// <summary>The service request equivalent to the case's diffusers call.</summary>
    internal static GenerationRequest RequestFor(ParityCase parity)
    {
        var p = parity.Params;
        var prompt = p.GetProperty("prompt").GetString()!;
        var negative = p.GetProperty("negative_prompt").GetString()!;
        var steps = p.GetProperty("num_inference_steps").GetInt32();
        var guidance = p.GetProperty("guidance_scale").GetDouble();
        var eta = p.TryGetProperty("eta", out var e) ? e.GetDouble() : 0.0;
        var strength = p.TryGetProperty("strength", out var s) ? s.GetDouble() : 1.0;

        GenerationRequest request;
        if (parity.Has("in.init_image"))
            request = new ImageToImageRequest(prompt, negative, InputImage.FromTensor(parity.Tensor("in.init_image")), strength, steps, guidance, 0, Eta: eta);
        else if (parity.Has("in.mask"))
            request = new InpaintRequest(prompt, negative, InputImage.FromTensor(parity.Tensor("in.image")), InputImage.FromTensor(parity.Tensor("in.mask")),
                steps, guidance, 0, strength, Eta: eta);
        else
            request = new TextToImageRequest(prompt, negative, p.GetProperty("width").GetInt32(), p.GetProperty("height").GetInt32(), steps, guidance, 0, Eta: eta);

        return request with
        {
            Prompt2 = p.TryGetProperty("prompt_2", out var p2) ? p2.GetString() : null,
            NegativePrompt2 = p.TryGetProperty("negative_prompt_2", out var n2) ? n2.GetString() : null,
            Micro = new MicroConditioning
            {
                OriginalSize = Pair(p, "original_size"),
                CropsCoordsTopLeft = Pair(p, "crops_coords_top_left") ?? (0, 0),
                TargetSize = Pair(p, "target_size"),
            },
        };
    }

    private static (int, int)? Pair(JsonElement p, string name) =>
        p.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Array ? (v[0].GetInt32(), v[1].GetInt32()) : null;

    /// <summary>Why this pipeline case cannot run yet, or null when it can.</summary>
    internal static string? UnsupportedReason(ParityCase parity)
    {
        var family = parity.Info.Family;
        if (family is not ("sd15" or "sd2" or "sdxl" or "sd15_inpaint"))
            return $"the '{family}' method is not built yet";
        var unknown = parity.TensorNames.Where(n => n.StartsWith("in.", StringComparison.Ordinal) && !KnownInputs.Contains(n)).ToList();
        if (unknown.Count > 0)
            return $"pipelines conditioned on {string.Join(", ", unknown)} are not built yet";
        return null;
    }
}

/// <summary>SDXL's UNet inputs from the prompts: concatenated penultimate states, pooled text_embeds, add_time_ids.</summary>
[Trait("Category", "Parity")]
public sealed class SdxlConditioningParityTests
{
    [SkippableFact]
    public void SdxlPromptConditioningMatchesTheFirstUNetCall()
    {
        const string caseName = "pipe_sdxl_txt2img_euler";
        Skip.If(ParityFixtures.Cases.All(c => c.Name != caseName), $"the fixture set has no {caseName}");
        using var parity = ParityFixtures.Load(caseName);
        var p = parity.Params;
        using var pipeline = StableDiffusionPipeline.Load(parity.ModelDir, new PipelineOptions("cpu", "float32"));
        var request = new TextToImageRequest(p.GetProperty("prompt").GetString()!, p.GetProperty("negative_prompt").GetString()!,
            p.GetProperty("width").GetInt32(), p.GetProperty("height").GetInt32(), 1, 7.5, 0) { Prompt2 = p.GetProperty("prompt_2").GetString() };

        using var scope = torch.NewDisposeScope();
        using var embeds = pipeline.EncodePrompts(request, guidance: true);
        var tolerance = Tolerance.For("text_encoder");
        tolerance.AssertClose(parity.Tensor("mid.unet_call0.encoder_hidden_states"), embeds.HiddenStates, "encoder_hidden_states");
        tolerance.AssertClose(parity.Tensor("mid.unet_call0.added_cond_kwargs.text_embeds"), embeds.Added!.TextEmbeds, "text_embeds");
        tolerance.AssertClose(parity.Tensor("mid.unet_call0.added_cond_kwargs.time_ids"), embeds.Added.TimeIds, "time_ids");
    }

    [SkippableFact]
    public void SdxlEmptyNegativePrompt_GivesZeroUnconditionalEmbeddings()
    {
        using var pipeline = StableDiffusionPipeline.Load(ParityFixtures.PathOf("models/sdxl"), new PipelineOptions("cpu", "float32"));
        using var scope = torch.NewDisposeScope();
        using var embeds = pipeline.EncodePrompts(new TextToImageRequest("a lion", "", 64, 64, 1, 7.5, 0), guidance: true);
        Assert.Equal(0.0, embeds.HiddenStates[0].abs().max().item<float>());
        Assert.Equal(0.0, embeds.Added!.TextEmbeds[0].abs().max().item<float>());
        Assert.True(embeds.HiddenStates[1].abs().max().item<float>() > 0);
        Assert.Equal([64f, 64f, 0f, 0f, 64f, 64f], embeds.Added.TimeIds[1].data<float>().ToArray());
    }
}
