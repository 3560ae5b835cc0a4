using Easel.Core.Models;
using Easel.Core.Options;
using Easel.Testing;

namespace Easel.Core.Tests;

public sealed class ModelCatalogTests
{
    [Theory]
    [InlineData("sd15", ModelFamily.Sd15, false)]
    [InlineData("sd15_inpaint", ModelFamily.Sd15, true)]
    [InlineData("sd2", ModelFamily.Sd2, false)]
    [InlineData("sdxl", ModelFamily.Sdxl, false)]
    public void Family_is_read_from_the_fixture_folder_json(string folder, ModelFamily family, bool inpainting)
    {
        var (detected, isInpainting) = ModelCatalog.DetectFamily(TestPaths.FixtureModel(folder));

        Assert.Equal(family, detected);
        Assert.Equal(inpainting, isInpainting);
    }

    [Theory]
    [InlineData("""{"cross_attention_dim": 768, "in_channels": 4}""", ModelFamily.Sd15, false)]
    [InlineData("""{"cross_attention_dim": 1024, "in_channels": 4}""", ModelFamily.Sd2, false)]
    [InlineData("""{"cross_attention_dim": [1024, 1024], "use_linear_projection": false}""", ModelFamily.Sd2, false)]
    [InlineData("""{"cross_attention_dim": 768, "use_linear_projection": true}""", ModelFamily.Sd2, false)]
    [InlineData("""{"cross_attention_dim": 2048, "use_linear_projection": true, "addition_embed_type": "text_time"}""", ModelFamily.Sdxl, false)]
    [InlineData("""{"cross_attention_dim": 768, "in_channels": 9}""", ModelFamily.Sd15, true)]
    [InlineData("""{"cross_attention_dim": 1024, "in_channels": 9, "use_linear_projection": true}""", ModelFamily.Sd2, true)]
    public void Family_rules_follow_the_unet_config(string unetConfig, ModelFamily family, bool inpainting)
    {
        var folder = TestPaths.NewTempFolder("easel-model");
        try
        {
            File.WriteAllText(Path.Combine(folder, "model_index.json"), """{"_class_name": "StableDiffusionPipeline"}""");
            Directory.CreateDirectory(Path.Combine(folder, "unet"));
            File.WriteAllText(Path.Combine(folder, "unet", "config.json"), unetConfig);

            Assert.Equal((family, inpainting), ModelCatalog.DetectFamily(folder));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void Catalog_lists_configured_models_and_marks_the_default()
    {
        var catalog = new ModelCatalog(Microsoft.Extensions.Options.Options.Create(new ModelsOptions
        {
            Models =
            {
                ["sd15"] = new ModelOptions { Path = TestPaths.FixtureModel("sd15") },
                ["xl"] = new ModelOptions { Path = TestPaths.FixtureModel("sdxl") },
            },
            DefaultModel = "xl",
        }));

        Assert.Equal(["sd15", "xl"], catalog.Models.Select(m => m.Name));
        Assert.Equal("xl", catalog.DefaultModel);
        Assert.True(catalog.TryGet("xl", out var xl) && xl.IsDefault && xl.Family == ModelFamily.Sdxl);
        Assert.False(catalog.Models[0].IsDefault);
        Assert.False(catalog.TryGet("nope", out _));
    }

    [Fact]
    public void Single_configured_model_is_the_default()
    {
        var catalog = new ModelCatalog(Microsoft.Extensions.Options.Options.Create(new ModelsOptions
        {
            Models = { ["only"] = new ModelOptions { Path = TestPaths.FixtureModel("sd15") } },
        }));

        Assert.Equal("only", catalog.DefaultModel);
    }

    [Fact]
    public void Folder_without_unet_config_is_listed_with_its_problem()
    {
        var folder = TestPaths.NewTempFolder("easel-model");
        try
        {
            File.WriteAllText(Path.Combine(folder, "model_index.json"), "{}");

            var info = ModelCatalog.Describe("broken", folder);

            Assert.Equal(ModelFamily.Unknown, info.Family);
            Assert.Contains("unet/config.json", info.Problem);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void Options_validation_rejects_a_path_that_is_not_a_diffusers_folder_and_an_unknown_default()
    {
        var options = new ModelsOptions
        {
            Models = { ["missing"] = new ModelOptions { Path = "/no/such/folder" } },
            DefaultModel = "other",
        };

        var results = options.Validate(new System.ComponentModel.DataAnnotations.ValidationContext(options)).ToList();

        Assert.Contains(results, r => r.ErrorMessage!.Contains("model_index.json"));
        Assert.Contains(results, r => r.ErrorMessage!.Contains("Easel:DefaultModel 'other'"));
    }
}
