using Easel.Core.Generation;
using Easel.Core.Models;
using Easel.Core.Options;
using Easel.Testing;

namespace Easel.Core.Tests;

public sealed class GenerationRequestValidatorTests
{
    private static GenerationRequestValidator Validator(GenerationOptions? limits = null) =>
        new(Microsoft.Extensions.Options.Options.Create(limits ?? new GenerationOptions()),
            Microsoft.Extensions.Options.Options.Create(new WebhookOptions()),
            new ModelCatalog(Microsoft.Extensions.Options.Options.Create(new ModelsOptions
            {
                Models = { ["sd15"] = new ModelOptions { Path = TestPaths.FixtureModel("sd15") } },
            })),
            // The inference core's registry fills this in the service; Core's tests use a list of their own.
            new SchedulerCatalog([
                new SchedulerInfo("ddim", "DDIM", "DDIMScheduler", []),
                new SchedulerInfo("euler", "Euler", "EulerDiscreteScheduler", ["k_euler"]),
            ]),
            TimeProvider.System);

    private static GenerationRequest Valid => new("a red circle", "blurry", "sd15", 64, 64, 5, 7.5, 42, "ddim", 1);

    private static IDictionary<string, string[]> ErrorsOf(GenerationRequest request, GenerationOptions? limits = null)
    {
        var result = Validator(limits).Validate(request);
        Assert.False(result.IsValid);
        return result.Errors;
    }

    [Fact]
    public void Valid_request_resolves_to_the_same_parameters()
    {
        var result = Validator().Validate(Valid);

        Assert.True(result.IsValid);
        Assert.Equal(new GenerationParameters("a red circle", "blurry", "sd15", 64, 64, 5, 7.5, 42, "ddim", 1), result.Parameters);
    }

    [Fact]
    public void Omitted_fields_take_configured_defaults_and_a_random_seed()
    {
        var limits = new GenerationOptions { DefaultWidth = 256, DefaultHeight = 128, DefaultSteps = 12, DefaultGuidanceScale = 5, DefaultScheduler = "DDIM" };

        var p = Validator(limits).Validate(new GenerationRequest("a square")).Parameters!;

        Assert.Equal(("sd15", 256, 128, 12, 5.0, "ddim", 1, ""), (p.Model, p.Width, p.Height, p.Steps, p.GuidanceScale, p.Scheduler, p.NumImages, p.NegativePrompt));
        Assert.InRange(p.Seed, 0, uint.MaxValue);
    }

    [Theory]
    [InlineData(65)]
    [InlineData(100)]
    public void Width_not_a_multiple_of_8_is_rejected(int width) =>
        Assert.Equal(["width"], ErrorsOf(Valid with { Width = width }).Keys);

    [Theory]
    [InlineData(56)]
    [InlineData(2056)]
    public void Height_outside_the_limits_is_rejected(int height) =>
        Assert.Equal(["height"], ErrorsOf(Valid with { Height = height }).Keys);

    [Fact]
    public void Pixel_count_above_the_cap_names_both_sides()
    {
        var limits = new GenerationOptions { MaxPixels = 512 * 512 };

        var errors = ErrorsOf(Valid with { Width = 1024, Height = 512 }, limits);

        Assert.Equal(["height", "width"], errors.Keys.Order());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(151)]
    public void Steps_outside_1_to_150_are_rejected(int steps) =>
        Assert.Equal(["steps"], ErrorsOf(Valid with { Steps = steps }).Keys);

    [Theory]
    [InlineData(1)]
    [InlineData(150)]
    public void Steps_at_the_limits_are_accepted(int steps) => Assert.True(Validator().Validate(Valid with { Steps = steps }).IsValid);

    [Theory]
    [InlineData(-0.1)]
    [InlineData(30.01)]
    [InlineData(double.NaN)]
    public void Guidance_outside_0_to_30_is_rejected(double guidance) =>
        Assert.Equal(["guidance_scale"], ErrorsOf(Valid with { GuidanceScale = guidance }).Keys);

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    public void Num_images_outside_1_to_max_is_rejected(int count) =>
        Assert.Equal(["num_images"], ErrorsOf(Valid with { NumImages = count }).Keys);

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData(null)]
    public void Empty_prompt_is_rejected(string? prompt) => Assert.Equal(["prompt"], ErrorsOf(Valid with { Prompt = prompt }).Keys);

    [Fact]
    public void Prompt_longer_than_the_limit_is_rejected() =>
        Assert.Equal(["prompt"], ErrorsOf(Valid with { Prompt = new string('a', 11) }, new GenerationOptions { MaxPromptLength = 10 }).Keys);

    [Fact]
    public void Unknown_model_is_rejected_and_the_known_ones_are_listed()
    {
        var errors = ErrorsOf(Valid with { Model = "sdxl-turbo" });

        Assert.Contains("sd15", Assert.Single(errors["model"]));
    }

    [Theory]
    [InlineData("plms")]
    [InlineData("DDIM ")]
    [InlineData("Euler a")]
    public void Unknown_scheduler_is_rejected(string scheduler)
    {
        // "DDIM " with a trailing space is trimmed and accepted; the others are unknown.
        var result = Validator().Validate(Valid with { Scheduler = scheduler });
        Assert.Equal(scheduler.Trim() == "DDIM", result.IsValid);
        if (!result.IsValid)
            Assert.Equal(["scheduler"], result.Errors.Keys);
    }

    [Theory]
    [InlineData("ddim", "ddim")]
    [InlineData("DDIM", "ddim")]
    [InlineData("euler", "euler")]
    [InlineData("Euler", "euler")]
    public void Scheduler_names_and_A1111_aliases_normalize(string given, string canonical) =>
        Assert.Equal(canonical, Validator().Validate(Valid with { Scheduler = given }).Parameters!.Scheduler);

    [Fact]
    public void Negative_seed_is_rejected() => Assert.Equal(["seed"], ErrorsOf(Valid with { Seed = -1 }).Keys);

    [Fact]
    public void Every_bad_field_is_reported_at_once()
    {
        var errors = ErrorsOf(new GenerationRequest("", null, "nope", 65, 64, 0, 31, null, "nope", 9));

        Assert.Equal(["guidance_scale", "model", "num_images", "prompt", "scheduler", "steps", "width"], errors.Keys.Order());
    }
}
