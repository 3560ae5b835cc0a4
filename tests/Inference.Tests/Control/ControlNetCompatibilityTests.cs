using Easel.Inference.Control.ControlNet;
using Easel.Inference.Models.UNet;
using Easel.Inference.Tests.Parity;

namespace Easel.Inference.Tests.Control;

/// <summary>Which folders are ControlNets and which base UNets they fit, on the fixture models.</summary>
public sealed class ControlNetCompatibilityTests
{
    private static ControlNetConfig ControlNet(string name) => ControlNetConfig.Load(ParityFixtures.PathOf($"models/{name}"));
    private static UNet2DConditionConfig UNet(string model) => UNet2DConditionConfig.Load(ParityFixtures.PathOf($"models/{model}/unet"));

    [Fact]
    public void AControlNetFolderIsToldFromAUNetFolder()
    {
        Assert.True(ControlNetCompatibility.IsControlNetFolder(ParityFixtures.PathOf("models/controlnet_sd15")));
        Assert.False(ControlNetCompatibility.IsControlNetFolder(ParityFixtures.PathOf("models/sd15/unet")));
    }

    [Fact]
    public void EachFixtureControlNetFitsItsOwnFamily()
    {
        Assert.Empty(ControlNetCompatibility.Mismatches(ControlNet("controlnet_sd15"), UNet("sd15")));
        Assert.Empty(ControlNetCompatibility.Mismatches(ControlNet("controlnet_sdxl"), UNet("sdxl")));
    }

    [Fact]
    public void AnSdxlControlNetOnAnSd15UNetIsRefusedNamingTheMismatch()
    {
        var error = Assert.Throws<InvalidOperationException>(() => ControlNetCompatibility.EnsureFits(ControlNet("controlnet_sdxl"), UNet("sd15")));
        Assert.Contains("does not fit the base UNet", error.Message);
        Assert.Contains("addition_embed_type", error.Message);
    }
}
