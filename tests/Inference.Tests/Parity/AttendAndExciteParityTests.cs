using System.Text.Json;
using Easel.Inference.Guidance.AttendAndExcite;
using Easel.Inference.Models;
using Easel.Inference.Models.UNet;
using Easel.Inference.Pipelines;
using Easel.Inference.Pipelines.Denoising;
using Easel.Inference.Schedulers;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Tests.Parity;

/// <summary>
/// Attend-and-Excite against diffusers' StableDiffusionAttendAndExcitePipeline: one latent update (the aggregated maps, the
/// smoothed maxima, the loss and the updated latents) and a whole run, whose UNet calls follow diffusers' pattern.
/// </summary>
[Trait("Category", "Parity")]
public sealed class AttendAndExciteParityTests
{
    public static TheoryData<string> Cases => ParityFixtures.CasesOfKind("attend_excite");

    [Theory]
    [MemberData(nameof(Cases))]
    public void One_latent_update_matches_diffusers(string caseName)
    {
        using var c = ParityFixtures.Load(caseName);
        var p = c.Params;
        var tolerance = Tolerance.For(c.Info.Kind);
        var indices = p.GetProperty("token_indices").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        var res = p.GetProperty("attn_res").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        using var unet = UNet2DConditionModel.FromPretrained(Path.Combine(c.ModelDir, "unet"));
        using var scheduler = SchedulerRegistry.FromConfig(SchedulerConfig.Read(Path.Combine(c.ModelDir, "scheduler", "scheduler_config.json")));
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var latents = c.Tensor("in.latents");
        var text = c.Tensor("in.text_embeddings");
        var timestep = c.Tensor("in.timestep");

        var settings = new AttendAndExciteSettings(indices, MaxIterToAlter: 1, new Dictionary<int, double>(),
            ScaleFactor: p.GetProperty("step_size").GetDouble(), AttentionResolution: (res[0], res[1]));
        var extension = new AttendAndExciteExtension(settings);
        var store = new CrossAttentionMapStore();
        var previous = unet.AttentionModules().Select(a => (Module: a, a.Processor)).ToList();
        try
        {
            foreach (var attention in unet.AttentionModules().Where(a => a.IsCrossAttention))
                attention.Processor = new MapRecordingProcessor(store, attention.Processor);
            using (torch.enable_grad())
            {
                var probe = latents.detach().requires_grad_(true);
                unet.forward(probe, timestep, text, new UNetConditioning(Attention: new AttentionContext().With(store)));
                var maps = store.Aggregate(res[0], res[1]);
                tolerance.AssertClose(c.Tensor("out.aggregated_attention"), maps, "aggregated_attention");
                var maxima = SubjectAttentionLoss.MaxAttentionPerToken(maps, indices);
                tolerance.AssertClose(c.Tensor("out.max_attention_per_index"), maxima, "max_attention_per_index");
                tolerance.AssertClose(c.Tensor("out.loss"), SubjectAttentionLoss.Loss(maxima), "loss");
            }

            foreach (var (module, processor) in previous)
                module.Processor = extension.ProcessorFor(module, processor);
            var prompt = new PromptEmbeddings(text, null);
            var request = new TextToImageRequest("", "", (int)latents.shape[3] * 2, (int)latents.shape[2] * 2, 1, 1.0, 0);
            var step = new DenoisingStep(0, timestep.reshape(1), scheduler, request, prompt, new TapeNoiseSource([]),
                new AttentionContext(0, 1, timestep), (input, t, embeddings, conditioning) =>
                    unet.forward(input, t, embeddings.HiddenStates, conditioning));
            var updated = extension.BeforeStep(step, latents);
            tolerance.AssertClose(c.Tensor("out.updated_latents"), updated, "updated_latents");
            Assert.Equal(1, extension.ProbeCalls);
        }
        finally
        {
            foreach (var (module, processor) in previous)
                module.Processor = processor;
        }
    }

    public static TheoryData<string> PipelineCases => ParityFixtures.AttendAndExcitePipelineCases();

    [Theory]
    [MemberData(nameof(PipelineCases))]
    public void Pipeline_with_attend_and_excite_matches_diffusers_and_probes_every_step(string caseName)
    {
        using var parity = ParityFixtures.Load(caseName);
        var p = parity.Params;
        var res = p.GetProperty("attn_res").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        var settings = new AttendAndExciteSettings(
            p.GetProperty("token_indices").EnumerateArray().Select(e => e.GetInt32()).ToArray(),
            p.GetProperty("max_iter_to_alter").GetInt32(),
            p.GetProperty("thresholds").EnumerateObject().ToDictionary(t => int.Parse(t.Name), t => t.Value.GetDouble()),
            p.GetProperty("scale_factor").GetDouble(),
            (res[0], res[1]));
        var extension = new AttendAndExciteExtension(settings);
        using var pipeline = StableDiffusionPipeline.Load(parity.ModelDir, new PipelineOptions("cpu", "float32"));
        PipelineParityTests.AssertMatchesGoldens(parity, pipeline, [extension]);
        var steps = p.GetProperty("num_inference_steps").GetInt32();
        Assert.Equal(p.GetProperty("unet_calls").GetInt32() - steps, extension.ProbeCalls);
    }

    [Fact]
    public void Skipping_the_probe_after_the_altered_steps_makes_fewer_unet_calls_and_keeps_the_altered_ones()
    {
        var caseName = ParityFixtures.Cases.First(c => c.Kind == "pipeline" && c.Name.Contains("attend_excite")).Name;
        using var parity = ParityFixtures.Load(caseName);
        var p = parity.Params;
        var indices = p.GetProperty("token_indices").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        var maxIter = p.GetProperty("max_iter_to_alter").GetInt32();
        var steps = p.GetProperty("num_inference_steps").GetInt32();
        using var pipeline = StableDiffusionPipeline.Load(parity.ModelDir, new PipelineOptions("cpu", "float32"));
        var lean = new AttendAndExciteExtension(new AttendAndExciteSettings(indices, maxIter, new Dictionary<int, double>(), ProbeEveryStep: false));
        var full = new AttendAndExciteExtension(new AttendAndExciteSettings(indices, maxIter, new Dictionary<int, double>()));
        var request = PipelineParityTests.RequestFor(parity) with { Seed = 5, Scheduler = "ddim" };
        var leanImage = pipeline.Generate(request with { Extensions = [lean] })[0];
        var fullImage = pipeline.Generate(request with { Extensions = [full] })[0];
        Assert.Equal(maxIter, lean.ProbeCalls);
        Assert.Equal(steps, full.ProbeCalls);
        Assert.Equal(fullImage.Rgb, leanImage.Rgb);
    }
}
