using System.Text.Json;
using Easel.Inference.Control.ControlNet;
using Easel.Inference.Control.Gligen;
using Easel.Inference.Control.T2IAdapter;
using Easel.Inference.Loading;
using Easel.Inference.Models.UNet;
using Easel.Inference.Pipelines;
using Easel.Inference.Training;
using Easel.Inference.Training.Control;
using Easel.Inference.Tests.Parity;
using TorchSharp;

namespace Easel.Inference.Tests.Training;

/// <summary>
/// The bundled control models' recipes, run for a few steps on small batches: each exports a folder its model class loads,
/// a run cut short and resumed gives the uninterrupted run's weights, and the shipped folders are what the recipes make.
/// </summary>
public sealed class ControlRecipeTests : IDisposable
{
    private static readonly ControlTrainingSettings Short = new() { Steps = 3, Batch = 2, WarmupSteps = 1, LearningRate = 1e-3, CheckpointEvery = 1 };

    private static readonly string BundledModel = Path.Combine(ParityFixtures.RepositoryRoot(), "models", "easel-shapes");

    private readonly string _folder = Directory.CreateTempSubdirectory("easel-control-recipes").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private string Folder(string name) => Path.Combine(_folder, name);

    [Fact]
    public void ControlNet_recipe_exports_a_ControlNet_folder_whose_zero_convolutions_have_left_zero()
    {
        var step = new ControlNetEdgesRecipe(BundledModel, Folder("out"), Folder("work"), Short).Run(null, _ => { });

        using var controlNet = ControlNetModel.FromPretrained(Folder("out"));
        Assert.Equal(3, step);
        Assert.Equal("3", Metadata(Path.Combine(Folder("out"), "diffusion_pytorch_model.safetensors"))["step"]);
        var state = controlNet.state_dict();
        Assert.True(state["controlnet_mid_block.weight"].abs().sum().item<float>() > 0, "the mid block's zero convolution did not train");
        Assert.Equal(ControlNetEdgesRecipe.ConditioningEmbeddingChannels, controlNet.Config.ConditioningEmbeddingOutChannels);
    }

    [Fact]
    public void A_control_run_stopped_and_resumed_gives_the_weights_of_an_uninterrupted_run()
    {
        new ControlNetEdgesRecipe(BundledModel, Folder("straight"), Folder("straight-work"), Short).Run(null, _ => { });
        new ControlNetEdgesRecipe(BundledModel, Folder("cut"), Folder("cut-work"), Short with { StopAfter = 1 }).Run(null, _ => { });
        var resumed = new ControlNetEdgesRecipe(BundledModel, Folder("cut"), Folder("cut-work"), Short).Run(null, _ => { });

        Assert.Equal(3, resumed);
        Assert.Equal(File.ReadAllBytes(Path.Combine(Folder("straight"), "diffusion_pytorch_model.safetensors")),
            File.ReadAllBytes(Path.Combine(Folder("cut"), "diffusion_pytorch_model.safetensors")));
    }

    [Fact]
    public void T2I_recipe_exports_an_adapter_whose_features_have_the_shapes_of_the_UNet_down_blocks()
    {
        new T2IColorAdapterRecipe(BundledModel, Folder("out"), Folder("work"), Short).Run(null, _ => { });

        using var adapter = T2IAdapterModel.FromPretrained(Folder("out"));
        using var _ = torch.no_grad();
        var features = adapter.forward(torch.rand(1, 3, 64, 64));
        // The shapes UNet's down blocks at 16-pixel latents: 48 channels after the first block's downsampler (8 px), 96 at 8 px, 128 at 4 px.
        Assert.Equal(new long[][] { [1, 48, 8, 8], [1, 96, 8, 8], [1, 128, 4, 4] }, features.Select(f => f.shape).ToArray());
    }

    [Fact]
    public void Gligen_recipe_exports_a_GLIGEN_pipeline_that_keeps_the_base_weights_and_draws_differently_when_grounded()
    {
        new GligenBoxesRecipe(BundledModel, Folder("out"), Folder("work"), Short).Run(null, _ => { });

        using var index = JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder("out"), "model_index.json")));
        Assert.Equal("StableDiffusionGLIGENPipeline", index.RootElement.GetProperty("_class_name").GetString());
        using var pipeline = StableDiffusionPipeline.Load(Folder("out"));
        using var plainUNet = UNet2DConditionModel.FromPretrained(Path.Combine(BundledModel, "unet"));
        var gated = pipeline.UNet.state_dict();
        foreach (var (key, value) in plainUNet.state_dict())
            Assert.True(gated[key].equal(value).all().item<bool>(), $"{key} changed");
        Assert.Contains(gated.Keys, k => k.StartsWith("position_net.", StringComparison.Ordinal));

        var request = new TextToImageRequest("a red circle", "", 64, 64, 2, 7.5, Seed: 3, Scheduler: "ddim");
        var grounding = new GligenGrounding(["a red circle"], [[0.1f, 0.1f, 0.5f, 0.5f]], Beta: 1.0);
        var grounded = pipeline.Generate(request with { Grounding = grounding })[0].Rgb;
        var plain = pipeline.Generate(request)[0].Rgb;
        Assert.NotEqual(plain, grounded);
    }

    [Fact]
    public void Shipped_control_models_load_and_are_the_recipes_layouts_for_the_bundled_model()
    {
        var models = Path.GetDirectoryName(BundledModel)!;
        using var controlNet = ControlNetModel.FromPretrained(Path.Combine(models, "easel-shapes-controlnet-edges"));
        using var adapter = T2IAdapterModel.FromPretrained(Path.Combine(models, "easel-shapes-t2i-color"));
        var unet = UNet2DConditionConfig.Load(Path.Combine(BundledModel, "unet"));

        Assert.Equal(ControlNetEdgesRecipe.ConfigFor(Path.Combine(BundledModel, "unet", "config.json")).ToJsonString(),
            JsonSerializer.Deserialize<System.Text.Json.Nodes.JsonObject>(File.ReadAllText(Path.Combine(models, "easel-shapes-controlnet-edges", "config.json")))!.ToJsonString());
        Assert.Equal(unet.BlockOutChannels, adapter.Config.Channels);
    }

    private static IReadOnlyDictionary<string, string> Metadata(string path)
    {
        using var file = SafeTensorsFile.Open(path);
        return file.Metadata.ToDictionary();
    }
}
