using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Easel.Inference.Editing;
using Easel.Inference.Shapes;
using Easel.Testing;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Easel.EndToEnd.Tests;

/// <summary>
/// Edit jobs over HTTP on the bundled model: a Blended Latent Diffusion edit redraws the masked object and hands back the
/// input's own pixels away from the mask; a Prompt-to-Prompt edit keeps its source's layout, also of a real image.
/// </summary>
public sealed class EditTests(BundledModelServiceFactory factory) : IClassFixture<BundledModelServiceFactory>
{
    private static readonly TimeSpan Deadline = TimeSpan.FromMinutes(3);

    [Fact]
    public async Task A_blended_edit_redraws_the_masked_object_and_keeps_the_input_bytes_away_from_the_mask()
    {
        var scene = new SceneGenerator(92_000_001).Generate(5).Scene;
        var input = ShapeRenderer.Render(scene);
        var (left, top, right, bottom) = scene.Objects[0].Bounds;
        // The object's box dilated by 4 px; kept = farther than the feather (one 4-px cell) and a cell's rounding from it.
        var mask = Mask((x, y) => x >= left - 4 && x < right + 4 && y >= top - 4 && y < bottom + 4);
        var far = Mask((x, y) => x < left - 12 || x >= right + 12 || y < top - 12 || y >= bottom + 12);
        var client = factory.CreateClient();

        var job = await JobRuns.SucceedAsync(client, "/v1/edits", new JsonObject
        {
            ["method"] = "blended", ["prompt"] = "a blue square", ["image"] = Png(input, 3), ["mask"] = Png(mask, 1),
            ["steps"] = 20, ["scheduler"] = "ddim", ["seed"] = 11,
        }, Deadline);
        var edit = Assert.Single(await JobRuns.PixelsAsync(client, job));

        Assert.Equal("edit", job.GetProperty("kind").GetString());
        Assert.Equal(double.PositiveInfinity, EditEffects.Psnr(edit, input, far.Select(v => v != 0).ToArray()));
        Assert.True(EditEffects.Psnr(edit, input, mask.Select(v => v != 0).ToArray()) < 25, "the masked object was not redrawn");
    }

    [Fact]
    public async Task A_prompt_to_prompt_edit_gives_the_source_and_an_edit_that_keeps_its_layout_better_than_regenerating()
    {
        var client = factory.CreateClient();
        var job = await JobRuns.SucceedAsync(client, "/v1/edits", new JsonObject
        {
            ["method"] = "prompt_to_prompt", ["source"] = new JsonObject { ["prompt"] = "a large blue circle", ["seed"] = 7004 },
            ["prompt"] = "a large purple circle", ["steps"] = 20, ["scheduler"] = "ddim",
        }, Deadline);
        var images = await JobRuns.PixelsAsync(client, job);
        var plain = Assert.Single(await JobRuns.PixelsAsync(client, await JobRuns.SucceedAsync(client, "/v1/generations", new JsonObject
        {
            ["prompt"] = "a large purple circle", ["steps"] = 20, ["scheduler"] = "ddim", ["seed"] = 7004,
        }, Deadline)));

        Assert.Equal(2, images.Count);
        Assert.True(EditEffects.ForegroundIou(images[0], images[1]) > EditEffects.ForegroundIou(images[0], plain));
    }

    [Fact]
    public async Task A_prompt_to_prompt_edit_of_a_real_image_reconstructs_the_image_as_its_source()
    {
        var scene = new SceneGenerator(92_000_002).Generate(1);
        var input = ShapeRenderer.Render(scene.Scene);
        var client = factory.CreateClient();

        var job = await JobRuns.SucceedAsync(client, "/v1/edits", new JsonObject
        {
            ["method"] = "prompt_to_prompt", ["source"] = new JsonObject { ["prompt"] = scene.Caption, ["image"] = Png(input, 3) },
            ["prompt"] = scene.Caption, ["steps"] = 10, ["null_text_learning_rate"] = 0.1,
        }, Deadline);
        var images = await JobRuns.PixelsAsync(client, job);

        var all = Enumerable.Repeat(true, ShapeRenderer.Size * ShapeRenderer.Size).ToArray();
        Assert.True(EditEffects.Psnr(images[0], input, all) > 25, $"reconstruction PSNR {EditEffects.Psnr(images[0], input, all):F1} dB");
    }

    [Fact]
    public async Task An_imagic_edit_trains_a_session_renders_its_eta_by_itself_and_renders_other_etas_on_request_without_training()
    {
        var input = ShapeRenderer.Render(new Scene(new Rgb(128, 128, 128), [new SceneObject(ShapeKind.Circle, ShapeColor.Red, ShapeSize.Large, 14, 32, 9)]));
        var client = factory.CreateClient();

        var training = await JobRuns.SucceedAsync(client, "/v1/edits", new JsonObject
        {
            ["method"] = "imagic", ["image"] = Png(input, 3), ["prompt"] = "a blue circle", ["eta"] = 0.7,
            ["embedding_steps"] = 4, ["finetune_steps"] = 4, ["steps"] = 10, ["seed"] = 2,
        }, Deadline);
        var session = Assert.Single(training.GetProperty("artifacts").EnumerateArray());
        Assert.Equal("edit_session", session.GetProperty("kind").GetString());
        var sessionId = session.GetProperty("id").GetString();

        var first = await UntilOneMoreEditAsync(client, training.GetProperty("id").GetString()!);
        Assert.Single(await JobRuns.PixelsAsync(client, first));
        var renders = await JobRuns.SucceedAsync(client, $"/v1/edits/{sessionId}/render", new JsonObject { ["eta"] = new JsonArray(0.0, 1.0), ["seed"] = 2 }, Deadline);
        var images = await JobRuns.PixelsAsync(client, renders);

        Assert.Equal(2, images.Count);
        Assert.NotEqual(images[0], images[1]);
    }

    /// <summary>The render job the Imagic job queued with its success, once it has succeeded.</summary>
    private static async Task<System.Text.Json.JsonElement> UntilOneMoreEditAsync(HttpClient client, string trainingId)
    {
        var list = await client.GetFromJsonAsync<System.Text.Json.JsonElement>("/v1/jobs?kind=edit&limit=100");
        var render = list.GetProperty("data").EnumerateArray()
            .First(j => j.GetProperty("request").TryGetProperty("imagic", out var imagic) && imagic.GetProperty("session").ValueKind == System.Text.Json.JsonValueKind.String
                        && j.GetProperty("id").GetString() != trainingId);
        var job = await JobPolling.UntilFinishedAsync(client, $"/v1/jobs/{render.GetProperty("id").GetString()}", Deadline);
        Assert.Equal("succeeded", job.GetProperty("status").GetString());
        return job;
    }

    private static byte[] Mask(Func<int, int, bool> inside)
    {
        var mask = new byte[ShapeRenderer.Size * ShapeRenderer.Size];
        for (var y = 0; y < ShapeRenderer.Size; y++)
            for (var x = 0; x < ShapeRenderer.Size; x++)
                mask[y * ShapeRenderer.Size + x] = inside(x, y) ? (byte)255 : (byte)0;
        return mask;
    }

    private static string Png(byte[] pixels, int channels)
    {
        using Image image = channels == 3
            ? Image.LoadPixelData<Rgb24>(pixels, ShapeRenderer.Size, ShapeRenderer.Size)
            : Image.LoadPixelData<L8>(pixels, ShapeRenderer.Size, ShapeRenderer.Size);
        using var stream = new MemoryStream();
        image.SaveAsPng(stream);
        return Convert.ToBase64String(stream.ToArray());
    }
}
