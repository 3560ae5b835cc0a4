using Easel.Inference.Models;
using Easel.Inference.Models.UNet;
using Easel.Inference.Pipelines;
using Easel.Inference.Pipelines.Denoising;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Tests.Pipelines;

/// <summary>The public denoising seam: hooks compose, see every step, may take gradients, and leave the cached model as it was.</summary>
public sealed class DenoisingSeamTests(FixturePipelines fixtures) : IClassFixture<FixturePipelines>
{
    private StableDiffusionPipeline Sd15 => (StableDiffusionPipeline)fixtures.Sd15;

    private static TextToImageRequest Text(params IDenoisingExtension[] extensions) =>
        new("a red circle", "blurry", 64, 64, 3, 7.5, 11, Scheduler: "ddim") { Extensions = extensions };

    [Fact]
    public void Attention_processors_of_a_request_are_restored_afterwards_also_when_the_request_fails()
    {
        var unet = Sd15.UNet;
        var before = unet.AttentionModules().Select(a => a.Processor).ToList();
        var counting = new CountingProcessors();

        Sd15.Generate(Text(counting));
        Assert.True(counting.Calls > 0);
        Assert.Equal(before, unet.AttentionModules().Select(a => a.Processor));

        Assert.Throws<InvalidOperationException>(() => Sd15.Generate(Text(counting, new FailingAtStep(1))));
        Assert.Equal(before, unet.AttentionModules().Select(a => a.Processor));
    }

    [Fact]
    public void A_request_without_extensions_gives_the_same_pixels_before_and_after_one_with_extensions()
    {
        var plain = Sd15.Generate(Text());
        Sd15.Generate(Text(new CountingProcessors(), new ScaleAfterStep(0.5)));
        var again = Sd15.Generate(Text());

        Assert.Equal(plain[0].Rgb, again[0].Rgb);
    }

    [Fact]
    public void Hooks_see_every_step_in_order_and_latent_edits_change_the_result()
    {
        var recorder = new StepRecorder();
        var plain = Sd15.Generate(Text(recorder));
        var edited = Sd15.Generate(Text(new ScaleAfterStep(0.5)));

        Assert.Equal([0, 1, 2], recorder.ContributedSteps);
        Assert.Equal([0, 1, 2], recorder.EndedSteps);
        Assert.All(recorder.AttentionSteps, s => Assert.InRange(s, 0, 2));
        Assert.NotEqual(plain[0].Rgb, edited[0].Rgb);
    }

    [Fact]
    public void A_latent_edit_may_take_a_gradient_through_the_unet_inside_the_loop()
    {
        var gradientStep = new GradientStepBeforeFirstStep();
        var plain = Sd15.Generate(Text());
        var moved = Sd15.Generate(Text(gradientStep));

        Assert.True(gradientStep.GradientNorm > 0, "the UNet's output had no gradient with respect to the latents");
        Assert.NotEqual(plain[0].Rgb, moved[0].Rgb);
    }

    [Fact]
    public void A_request_initializer_replaces_the_kinds_and_its_latents_are_denoised()
    {
        var fromZeros = Sd15.Generate(Text(new ZeroLatents()));
        var again = Sd15.Generate(Text(new ZeroLatents()));
        var fromNoise = Sd15.Generate(Text());

        Assert.Equal(fromZeros[0].Rgb, again[0].Rgb);
        Assert.NotEqual(fromNoise[0].Rgb, fromZeros[0].Rgb);
    }

    private sealed class CountingProcessors : IAttentionProcessorProvider
    {
        public int Calls;

        public IAttentionProcessor ProcessorFor(Attention attention, IAttentionProcessor installed) => new Counting(this);

        private sealed class Counting(CountingProcessors owner) : AttnProcessor
        {
            protected override Tensor OnAttentionProbabilities(Attention attention, Tensor probabilities, AttentionContext? context)
            {
                Interlocked.Increment(ref owner.Calls);
                return probabilities;
            }
        }
    }

    private sealed class FailingAtStep(int index) : IStepCallback
    {
        public void OnStepEnd(DenoisingStep step, Tensor latents)
        {
            if (step.Index == index)
                throw new InvalidOperationException("a hook failed");
        }
    }

    private sealed class ScaleAfterStep(double factor) : ILatentEdit
    {
        public Tensor AfterStep(DenoisingStep step, Tensor latents) => latents * factor;
    }

    private sealed class StepRecorder : IUNetConditioningContributor, IStepCallback, IAttentionProcessorProvider
    {
        public List<int> ContributedSteps { get; } = [];
        public List<int> EndedSteps { get; } = [];
        public List<int> AttentionSteps { get; } = [];

        public UNetConditioning Contribute(DenoisingStep step, Tensor modelInput, UNetConditioning conditioning)
        {
            Assert.Equal(step.Index, conditioning.Attention!.StepIndex);
            ContributedSteps.Add(step.Index);
            return conditioning;
        }

        public void OnStepEnd(DenoisingStep step, Tensor latents) => EndedSteps.Add(step.Index);

        public IAttentionProcessor ProcessorFor(Attention attention, IAttentionProcessor installed) =>
            attention.IsCrossAttention ? new StepReading(this) : installed;

        private sealed class StepReading(StepRecorder owner) : AttnProcessor
        {
            protected override Tensor OnAttentionProbabilities(Attention attention, Tensor probabilities, AttentionContext? context)
            {
                owner.AttentionSteps.Add(context!.StepIndex);
                return probabilities;
            }
        }
    }

    /// <summary>One gradient step on z_T through the conditional UNet call (the shape of Attend-and-Excite's update).</summary>
    private sealed class GradientStepBeforeFirstStep : ILatentEdit
    {
        public double GradientNorm;

        public Tensor BeforeStep(DenoisingStep step, Tensor latents)
        {
            if (step.Index != 0)
                return latents;
            using var grad = torch.enable_grad();
            var z = latents.detach().requires_grad_(true);
            var conditional = new PromptEmbeddings(step.Prompt.HiddenStates[1..], null);
            var loss = step.PredictNoise(step.Scheduler.ScaleModelInput(z, step.Timestep), conditional).square().mean();
            var gradient = torch.autograd.grad([loss], [z])[0];
            GradientNorm = gradient.norm().item<float>();
            return (z - 50 * gradient).detach();
        }
    }

    private sealed class ZeroLatents : ILatentInitializer
    {
        public LatentStart Initialize(DenoisingSetup setup) =>
            new(torch.zeros(setup.LatentShape), setup.Scheduler.Timesteps, []);
    }
}
