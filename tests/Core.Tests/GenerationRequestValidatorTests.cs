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
            // No worker registers in these tests: the configured model is known but served by nobody.
            Microsoft.Extensions.Options.Options.Create(new JobsOptions { UnservedModel = UnservedModelPolicy.Wait }),
            LocalCatalog.Of(new ModelsOptions { Models = { ["sd15"] = new ModelOptions { Path = TestPaths.FixtureModel("sd15") } } }),
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
    public void Omitted_fields_take_the_model_native_size_the_configured_defaults_and_a_random_seed()
    {
        var limits = new GenerationOptions { DefaultWidth = 256, DefaultHeight = 128, DefaultSteps = 12, DefaultGuidanceScale = 5, DefaultScheduler = "DDIM" };

        var p = Validator(limits).Validate(new GenerationRequest("a square")).Parameters!;

        // The fixture's UNet sample_size 32 × VAE scale factor 2; it recommends nothing else.
        Assert.Equal(("sd15", 64, 64, 12, 5.0, "ddim", 1, ""), (p.Model, p.Width, p.Height, p.Steps, p.GuidanceScale, p.Scheduler, p.NumImages, p.NegativePrompt));
        Assert.InRange(p.Seed, 0, uint.MaxValue);
    }

    [Fact]
    public void Omitted_fields_take_the_model_recommended_values_before_the_service_wide_ones()
    {
        var models = new ModelsOptions
        {
            Models =
            {
                ["sd15"] = new ModelOptions
                {
                    Path = TestPaths.FixtureModel("sd15"),
                    Defaults = new ModelDefaultsOverride { Steps = 4, GuidanceScale = 1.0, Scheduler = "euler", Width = 128 },
                },
            },
        };
        var validator = new GenerationRequestValidator(
            Microsoft.Extensions.Options.Options.Create(new GenerationOptions()),
            Microsoft.Extensions.Options.Options.Create(new WebhookOptions()),
            Microsoft.Extensions.Options.Options.Create(new JobsOptions { UnservedModel = UnservedModelPolicy.Wait }),
            LocalCatalog.Of(models),
            new SchedulerCatalog([new SchedulerInfo("ddim", "DDIM", "DDIMScheduler", []), new SchedulerInfo("euler", "Euler", "EulerDiscreteScheduler", [])]),
            TimeProvider.System);

        var p = validator.Validate(new GenerationRequest("a square")).Parameters!;
        var explicitValues = validator.Validate(new GenerationRequest("a square", Steps: 9, GuidanceScale: 6, Scheduler: "ddim")).Parameters!;

        Assert.Equal((128, 64, 4, 1.0, "euler"), (p.Width, p.Height, p.Steps, p.GuidanceScale, p.Scheduler));
        Assert.Equal((9, 6.0, "ddim"), (explicitValues.Steps, explicitValues.GuidanceScale, explicitValues.Scheduler));
    }

    [Fact]
    public void A_model_no_worker_serves_is_refused_with_422_unless_the_policy_is_wait()
    {
        var refusing = new GenerationRequestValidator(
            Microsoft.Extensions.Options.Options.Create(new GenerationOptions()),
            Microsoft.Extensions.Options.Options.Create(new WebhookOptions()),
            Microsoft.Extensions.Options.Options.Create(new JobsOptions()),
            LocalCatalog.Of(new ModelsOptions { Models = { ["sd15"] = new ModelOptions { Path = TestPaths.FixtureModel("sd15") } } }),
            new SchedulerCatalog([new SchedulerInfo("euler", "Euler", "EulerDiscreteScheduler", [])]),
            TimeProvider.System);

        var refused = refusing.Validate(new GenerationRequest("a square"));

        Assert.Equal(422, refused.Status);
        Assert.Contains("No live worker serves model 'sd15'", Assert.Single(refused.Errors["model"]));
        Assert.True(Validator().Validate(new GenerationRequest("a square")).IsValid);
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

    [Theory]
    [InlineData(null, SeedMode.PerImage)]
    [InlineData("per_image", SeedMode.PerImage)]
    [InlineData("batch", SeedMode.Batch)]
    [InlineData(" Batch ", SeedMode.Batch)]
    public void Seed_mode_defaults_to_per_image_and_is_stored(string? given, SeedMode stored) =>
        Assert.Equal(stored, Validator().Validate(Valid with { SeedMode = given }).Parameters!.SeedMode);

    [Theory]
    [InlineData("per-image")]
    [InlineData("random")]
    public void Unknown_seed_mode_is_rejected(string seedMode)
    {
        var errors = ErrorsOf(Valid with { SeedMode = seedMode });
        Assert.Equal(["seed_mode"], errors.Keys);
        Assert.Contains("per_image, batch", errors["seed_mode"][0]);
    }

    [Fact]
    public void Per_image_seeds_must_all_stay_within_the_largest_seed()
    {
        var last = Valid with { Seed = GenerationRequestValidator.MaxSeed - 1, NumImages = 2 };
        Assert.True(Validator().Validate(last).IsValid);
        Assert.Equal(["seed"], ErrorsOf(last with { NumImages = 3 }).Keys);
        Assert.True(Validator().Validate(last with { NumImages = 3, SeedMode = "batch" }).IsValid);
    }

    [Theory]
    [InlineData("text_to_image", true)]
    [InlineData("image_to_image", false)]
    [InlineData("inpaint", false)]
    [InlineData("txt2img", false)]
    public void Mode_when_sent_must_be_what_the_inputs_make_it(string mode, bool valid)
    {
        var result = Validator().Validate(Valid with { Mode = mode });
        Assert.Equal(valid, result.IsValid);
        if (!valid)
            Assert.Equal(["mode"], result.Errors.Keys);
    }

    [Fact]
    public void Stored_input_reference_needs_its_bytes_and_the_shown_size()
    {
        var reference = Valid with { Width = null, Height = null, Image = new InputImageField(null, new StoredInputImage("ab", 64, 64)) };
        Assert.Equal(["image"], ErrorsOf(reference).Keys);
        Assert.True(Validator().Validate(reference, TestImages.Png(), null).IsValid);
        var wrongSize = reference with { Image = new InputImageField(null, new StoredInputImage("ab", 64, 32)) };
        Assert.Equal(["image"], Validator().Validate(wrongSize, TestImages.Png(), null).Errors.Keys);
    }

    [Fact]
    public void Every_bad_field_is_reported_at_once()
    {
        var errors = ErrorsOf(new GenerationRequest("", null, "nope", 65, 64, 0, 31, null, "nope", 9));

        Assert.Equal(["guidance_scale", "model", "num_images", "prompt", "scheduler", "steps", "width"], errors.Keys.Order());
    }
}
