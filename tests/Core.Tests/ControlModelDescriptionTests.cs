using Easel.Core.Models;
using Easel.Core.Options;
using Easel.Testing;

namespace Easel.Core.Tests;

/// <summary>Control model folders: told from pipelines, their family, and which pipelines they fit, on the fixture models.</summary>
public sealed class ControlModelDescriptionTests
{
    private static ModelInfo Describe(string folder) => ModelDescription.DescribeFolder(folder, TestPaths.FixtureModel(folder));

    [Theory]
    [InlineData("controlnet_sd15", ModelFamily.Sd15)]
    [InlineData("controlnet_sdxl", ModelFamily.Sdxl)]
    public void A_controlnet_folder_is_described_as_a_controlnet_of_its_family(string folder, ModelFamily family)
    {
        var model = Describe(folder);
        Assert.Null(model.Problem);
        Assert.Equal(ModelKind.ControlNet, model.Kind);
        Assert.Equal(family, model.Family);
        Assert.NotNull(model.Layout);
    }

    [Fact]
    public void A_pipeline_folder_is_a_pipeline_with_its_unets_layout()
    {
        var model = Describe("sd15");
        Assert.Equal(ModelKind.Pipeline, model.Kind);
        Assert.Equal(Describe("controlnet_sd15").Layout!.BlockOutChannels, model.Layout!.BlockOutChannels);
    }

    [Fact]
    public void Each_fixture_controlnet_fits_the_pipeline_of_its_family()
    {
        Assert.Null(Describe("controlnet_sd15").MismatchWith(Describe("sd15")));
        Assert.Null(Describe("controlnet_sdxl").MismatchWith(Describe("sdxl")));
    }

    [Fact]
    public void An_sdxl_controlnet_on_an_sd15_pipeline_is_refused_naming_both_families()
    {
        var problem = Describe("controlnet_sdxl").MismatchWith(Describe("sd15"));
        Assert.NotNull(problem);
        Assert.Contains("sdxl controlnet", problem);
        Assert.Contains("is sd15", problem);
    }

    [Fact]
    public void A_controlnet_whose_encoder_differs_from_the_unets_is_refused_naming_the_difference()
    {
        var controlNet = Describe("controlnet_sd15");
        var wider = controlNet with { Layout = controlNet.Layout! with { CrossAttentionDim = [.. controlNet.Layout.CrossAttentionDim.Select(d => d * 2)] } };
        var problem = wider.MismatchWith(Describe("sd15"));
        Assert.NotNull(problem);
        Assert.Contains("cross_attention_dim of down block 0", problem);
    }

    [Fact]
    public void With_one_pipeline_and_a_controlnet_configured_the_pipeline_is_the_default()
    {
        var models = new ConfiguredModels(Microsoft.Extensions.Options.Options.Create(new ModelsOptions
        {
            Models =
            {
                ["sd15"] = new ModelOptions { Path = TestPaths.FixtureModel("sd15") },
                ["edges"] = new ModelOptions { Path = TestPaths.FixtureModel("controlnet_sd15") },
            },
        }));
        Assert.Equal("sd15", models.DefaultModel);
        Assert.True(models.Models.Single(m => m.Name == "sd15").IsDefault);
        Assert.False(models.Models.Single(m => m.Name == "edges").IsDefault);
    }
}
