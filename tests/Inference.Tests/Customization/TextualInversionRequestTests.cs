using Easel.Inference.Customization.TextualInversion;
using Easel.Inference.Pipelines;
using Easel.Inference.Tests.Parity;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Tests.Customization;

/// <summary>Embeddings in a generation request: used by that request's prompts only, on one or two text encoders.</summary>
public sealed class TextualInversionRequestTests
{
    private static StableDiffusionPipeline Fixture(string name) =>
        StableDiffusionPipeline.Load(ParityFixtures.PathOf($"models/{name}"), new PipelineOptions("cpu", "float32"));

    private static TextualInversionEmbedding Random(string token, int vectors, params (string Encoder, int Dim)[] encoders)
    {
        var generator = new Generator(11, CPU);
        return new TextualInversionEmbedding(token, encoders.ToDictionary(e => e.Encoder, e => torch.randn([vectors, e.Dim], generator: generator)), "diffusers");
    }

    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    [Fact]
    public void Bundled_model_request_without_embeddings_after_one_with_them_gives_the_pixels_of_before()
    {
        using var pipeline = StableDiffusionPipeline.Load(Path.Combine(ParityFixtures.RepositoryRoot(), "models", "easel-shapes"),
            new PipelineOptions("cpu", "float32"));
        var plain = new TextToImageRequest("a red circle", "blurry", 64, 64, 2, 7.5, 3);
        var before = pipeline.Generate(plain);
        using var ring = Random("<ring>", 2, (TextualInversionEmbedding.TextEncoder, 64));
        var withEmbedding = pipeline.Generate(plain with { Prompt = "a red <ring>", NegativePrompt = "<ring>", Embeddings = [ring] });
        var after = pipeline.Generate(plain);

        Assert.Equal(before[0].Rgb, after[0].Rgb);
        Assert.NotEqual(before[0].Rgb, withEmbedding[0].Rgb);
    }

    [Fact]
    public void Prompt_and_negative_prompt_both_read_the_request_tokens()
    {
        using var pipeline = Fixture("sd15");
        using var style = Random("<style>", 1, (TextualInversionEmbedding.TextEncoder, 32));
        var request = new TextToImageRequest("a cat", "ugly", 64, 64, 1, 7.5, 1);
        using var plain = pipeline.EncodePrompts(request, guidance: true);
        using var negativeOnly = pipeline.EncodePrompts(request with { NegativePrompt = "ugly <style>", Embeddings = [style] }, guidance: true);
        using var promptOnly = pipeline.EncodePrompts(request with { Prompt = "a cat <style>", Embeddings = [style] }, guidance: true);

        Assert.False(Same(plain.HiddenStates[0], negativeOnly.HiddenStates[0])); // row 0: the negative prompt
        Assert.True(Same(plain.HiddenStates[1], negativeOnly.HiddenStates[1]));
        Assert.True(Same(plain.HiddenStates[0], promptOnly.HiddenStates[0]));
        Assert.False(Same(plain.HiddenStates[1], promptOnly.HiddenStates[1]));
    }

    [Fact]
    public void Sdxl_embedding_adds_its_clip_l_and_clip_g_vectors_to_the_two_encoders_for_one_request()
    {
        using var pipeline = Fixture("sdxl");
        var request = new TextToImageRequest("a cat in the style of <sdxl-style>", "", 64, 64, 1, 7.5, 1);
        using var before = pipeline.EncodePrompts(request, guidance: false);
        using var style = Random("<sdxl-style>", 2, (TextualInversionEmbedding.TextEncoder, 32), (TextualInversionEmbedding.TextEncoder2, 32));
        using var withStyle = pipeline.EncodePrompts(request with { Embeddings = [style] }, guidance: false);
        using var after = pipeline.EncodePrompts(request, guidance: false);

        Assert.False(Same(before.HiddenStates, withStyle.HiddenStates));
        Assert.False(Same(before.Added!.TextEmbeds, withStyle.Added!.TextEmbeds));
        Assert.True(Same(before.HiddenStates, after.HiddenStates));
        Assert.True(Same(before.Added!.TextEmbeds, after.Added!.TextEmbeds));
    }

    [Fact]
    public void Embedding_of_another_width_is_refused_naming_the_encoder_and_both_sizes()
    {
        using var pipeline = Fixture("sd15");
        using var wide = Random("<wide>", 1, (TextualInversionEmbedding.TextEncoder, 768));
        var request = new TextToImageRequest("a <wide> cat", "", 64, 64, 1, 7.5, 1) { Embeddings = [wide] };
        var error = Assert.Throws<ArgumentException>(() => pipeline.EncodePrompts(request, guidance: false));
        Assert.Contains("768", error.Message);
        Assert.Contains("hidden size 32", error.Message);
        Assert.Contains("text_encoder", error.Message);
    }

    [Fact]
    public void Sd15_embedding_on_sdxl_is_refused_for_the_missing_second_encoder()
    {
        using var pipeline = Fixture("sdxl");
        using var sd15 = Random("<sd15>", 1, (TextualInversionEmbedding.TextEncoder, 32));
        var request = new TextToImageRequest("a <sd15> cat", "", 64, 64, 1, 7.5, 1) { Embeddings = [sd15] };
        var error = Assert.Throws<ArgumentException>(() => pipeline.EncodePrompts(request, guidance: false));
        Assert.Contains("text_encoder_2", error.Message);
    }

    [Fact]
    public void Token_already_in_the_vocabulary_is_refused()
    {
        using var pipeline = Fixture("sd15");
        using var clash = Random("<|endoftext|>", 1, (TextualInversionEmbedding.TextEncoder, 32));
        var request = new TextToImageRequest("a cat", "", 64, 64, 1, 7.5, 1) { Embeddings = [clash] };
        var error = Assert.Throws<ArgumentException>(() => pipeline.EncodePrompts(request, guidance: false));
        Assert.Contains("already in the tokenizer's vocabulary", error.Message);
    }
}
