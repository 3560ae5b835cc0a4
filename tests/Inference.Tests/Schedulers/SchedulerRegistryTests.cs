using Easel.Inference.Schedulers;

namespace Easel.Inference.Tests.Schedulers;

public sealed class SchedulerRegistryTests
{
    private static readonly SchedulerConfig Sd15Pndm = SchedulerConfig.Parse("""
        {"_class_name": "PNDMScheduler", "_diffusers_version": "0.6.0", "beta_end": 0.012, "beta_schedule": "scaled_linear",
         "beta_start": 0.00085, "num_train_timesteps": 1000, "set_alpha_to_one": false, "skip_prk_steps": true,
         "steps_offset": 1, "trained_betas": null, "clip_sample": false, "some_future_key": [1, 2]}
        """);

    [Theory]
    [InlineData("ddim", "DDIMScheduler")]
    [InlineData("DDIM", "DDIMScheduler")]
    [InlineData("Euler", "EulerDiscreteScheduler")]
    [InlineData("euler a", "EulerAncestralDiscreteScheduler")]
    [InlineData("Euler a", "EulerAncestralDiscreteScheduler")]
    [InlineData("euler_a", "EulerAncestralDiscreteScheduler")]
    [InlineData("DPM++ 2M", "DPMSolverMultistepScheduler")]
    [InlineData("dpm++  2m karras", "DPMSolverMultistepScheduler")]
    [InlineData("dpmpp_2m_karras", "DPMSolverMultistepScheduler")]
    [InlineData("LMS", "LMSDiscreteScheduler")]
    [InlineData("PLMS", "PNDMScheduler")]
    [InlineData("ddpm", "DDPMScheduler")]
    [InlineData("LCM", "LCMScheduler")]
    [InlineData("DDIMScheduler", "DDIMScheduler")]
    [InlineData("EulerDiscreteScheduler", "EulerDiscreteScheduler")]
    public void NamesAliasesAndClassNamesResolve(string name, string expectedClass)
    {
        var scheduler = SchedulerRegistry.Create(name, Sd15Pndm);
        Assert.Equal(expectedClass, scheduler.ClassName);
    }

    [Fact]
    public void KarrasNameTurnsKarrasSigmasOnAndKeepsTheModelConfig()
    {
        var karras = SchedulerRegistry.Create("DPM++ 2M Karras", Sd15Pndm);
        Assert.True(karras.Config.UseKarrasSigmas);
        Assert.Equal(0.012, karras.Config.BetaEnd);
        Assert.False(SchedulerRegistry.Create("DPM++ 2M", Sd15Pndm with { UseKarrasSigmas = true }).Config.UseKarrasSigmas);
    }

    [Fact]
    public void UnknownNameFailsListingKnownNames()
    {
        var e = Assert.Throws<UnknownSchedulerException>(() => SchedulerRegistry.Create("heun", Sd15Pndm));
        Assert.Contains("heun", e.Message);
        foreach (var name in SchedulerRegistry.Names)
            Assert.Contains(name, e.Message);
    }

    [Fact]
    public void ModelsOwnClassIsBuiltFromClassName()
    {
        Assert.Equal("PNDMScheduler", SchedulerRegistry.FromConfig(Sd15Pndm).ClassName);
    }

    [Fact]
    public void UnimplementedModelClassIsNamedInTheError()
    {
        var e = Assert.Throws<NotSupportedException>(() => SchedulerRegistry.FromConfig(Sd15Pndm with { ClassName = "UniPCMultistepScheduler" }));
        Assert.Contains("UniPCMultistepScheduler", e.Message);
    }

    [Fact]
    public void NamesListIsCanonicalAndComplete()
    {
        Assert.Contains("ddim", SchedulerRegistry.Names);
        Assert.Contains("euler_a", SchedulerRegistry.Names);
        Assert.Contains("dpmpp_2m_karras", SchedulerRegistry.Names);
        Assert.All(SchedulerRegistry.Schedulers, d => Assert.True(SchedulerRegistry.IsImplemented(d.ClassName)));
    }
}
