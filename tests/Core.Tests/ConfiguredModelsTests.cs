using Easel.Core.Models;
using Easel.Core.Options;
using Easel.Testing;

namespace Easel.Core.Tests;

public sealed class ConfiguredModelsTests
{
    [Theory]
    [InlineData("sd15", ModelFamily.Sd15, false)]
    [InlineData("sd15_inpaint", ModelFamily.Sd15, true)]
    [InlineData("sd2", ModelFamily.Sd2, false)]
    [InlineData("sdxl", ModelFamily.Sdxl, false)]
    public void Family_is_read_from_the_fixture_folder_json(string folder, ModelFamily family, bool inpainting)
    {
        var (detected, isInpainting) = ModelDescription.DetectFamily(TestPaths.FixtureModel(folder));

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

            Assert.Equal((family, inpainting), ModelDescription.DetectFamily(folder));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void Catalog_lists_configured_models_and_marks_the_default()
    {
        var catalog = new ConfiguredModels(Microsoft.Extensions.Options.Options.Create(new ModelsOptions
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
        var catalog = new ConfiguredModels(Microsoft.Extensions.Options.Options.Create(new ModelsOptions
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

            var info = ModelDescription.DescribeFolder("broken", folder);

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

    [Fact]
    public void Without_configuration_the_bundled_model_is_the_default_and_its_control_models_fit_it()
    {
        var options = new ModelsOptions();
        options.AddBundledModelWhenNoneConfigured(TestPaths.BundledModel);

        var models = new ConfiguredModels(Microsoft.Extensions.Options.Options.Create(options));

        Assert.Equal("easel-shapes", models.DefaultModel);
        var shapes = models.Models.Single(m => m.Name == "easel-shapes");
        foreach (var name in new[] { "easel-shapes-controlnet-edges", "easel-shapes-t2i-color" })
        {
            Assert.True(models.TryGet(name, out var control), $"{name} is not served");
            Assert.NotEqual(ModelKind.Pipeline, control.Kind);
            Assert.Null(control.MismatchWith(shapes));
        }
    }

    [Fact]
    public void Configuring_any_model_replaces_the_bundled_model_and_its_control_models()
    {
        var options = new ModelsOptions { Models = { ["mine"] = new ModelOptions { Path = "/models/mine" } } };
        options.AddBundledModelWhenNoneConfigured(TestPaths.BundledModel);

        Assert.Equal(["mine"], options.Models.Keys);
        Assert.Null(options.DefaultModel);
    }

    [Fact]
    public void Bundled_model_recommends_its_model_card_values_from_its_defaults_file()
    {
        var info = ModelDescription.DescribeFolder("easel-shapes", TestPaths.BundledModel);

        Assert.Equal(new ModelDefaults(64, 64, 20, 7.5, "ddim"), info.Defaults);
    }

    [Fact]
    public void Configured_defaults_win_over_the_defaults_file_and_an_lcm_scheduler_implies_few_steps_without_guidance()
    {
        var folder = TestPaths.NewTempFolder("easel-model");
        try
        {
            File.WriteAllText(Path.Combine(folder, "model_index.json"), """{"_class_name": "StableDiffusionPipeline"}""");
            Directory.CreateDirectory(Path.Combine(folder, "unet"));
            File.WriteAllText(Path.Combine(folder, "unet", "config.json"), """{"cross_attention_dim": 768, "sample_size": 64}""");
            Directory.CreateDirectory(Path.Combine(folder, "scheduler"));
            File.WriteAllText(Path.Combine(folder, "scheduler", "scheduler_config.json"), """{"_class_name": "LCMScheduler"}""");

            var lcm = ModelDescription.DescribeFolder("lcm", folder).Defaults;
            File.WriteAllText(Path.Combine(folder, ModelDescription.DefaultsFileName), """{"steps": 6, "scheduler": "euler"}""");
            var withFile = ModelDescription.DescribeFolder("lcm", folder).Defaults;
            var configured = ModelDescription.DescribeFolder("lcm", folder, overrides: new ModelDefaultsOverride { Steps = 2 }).Defaults;

            Assert.Equal(new ModelDefaults(512, 512, 4, 1.0, "lcm"), lcm);
            Assert.Equal(new ModelDefaults(512, 512, 6, 1.0, "euler"), withFile);
            Assert.Equal(new ModelDefaults(512, 512, 2, 1.0, "euler"), configured);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void Options_validation_accepts_a_single_file_and_refuses_a_pickle_and_config_from_on_a_folder()
    {
        var options = new ModelsOptions
        {
            Models =
            {
                ["single"] = new ModelOptions { Path = TestPaths.SingleFileCheckpoint("sd15"), ConfigFrom = TestPaths.FixtureModel("sd15") },
                ["pickle"] = new ModelOptions { Path = "/models/v1-5-pruned.ckpt" },
                ["folder"] = new ModelOptions { Path = TestPaths.FixtureModel("sd15"), ConfigFrom = TestPaths.FixtureModel("sd15") },
            },
        };

        var results = options.Validate(new System.ComponentModel.DataAnnotations.ValidationContext(options)).Select(r => r.ErrorMessage!).ToList();

        Assert.Equal(2, results.Count);
        Assert.Contains(results, r => r.StartsWith("Easel:Models:pickle:Path", StringComparison.Ordinal) && r.Contains("pickle"));
        Assert.Contains(results, r => r.StartsWith("Easel:Models:folder:ConfigFrom", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(ModelFamily.Sd15, 512)]
    [InlineData(ModelFamily.Sd2, 768)]
    [InlineData(ModelFamily.Sdxl, 1024)]
    public void A_single_file_without_config_from_is_described_with_its_familys_built_in_configs(ModelFamily family, int nativeSize)
    {
        var model = ConfiguredModels.Describe("single", new ModelOptions { Path = "/models/any.safetensors" }, isDefault: true, new FixedInspector(family));

        Assert.Null(model.Problem);
        Assert.Null(model.ConfigFrom);
        Assert.Equal((family, ModelFormat.SingleFile), (model.Family, model.Format));
        Assert.Equal((nativeSize, nativeSize), (model.EffectiveDefaults.Width, model.EffectiveDefaults.Height));
    }

    private sealed class FixedInspector(ModelFamily family) : ISingleFileInspector
    {
        public (ModelFamily Family, bool Inpainting) Inspect(string path) => (family, false);
    }
}
