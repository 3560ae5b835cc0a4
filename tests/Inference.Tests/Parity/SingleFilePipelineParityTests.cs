using Easel.Inference.Pipelines;

namespace Easel.Inference.Tests.Parity;

/// <summary>
/// The pipeline cases again, with every component loaded from the single-file checkpoint that holds the same
/// weights as the case's folder (configs, tokenizers and scheduler from that folder).
/// </summary>
[Trait("Category", "Parity")]
public sealed class SingleFilePipelineParityTests
{
    /// <summary>(checkpoint name, pipeline case name) pairs, discovered from single-file/cases.json and the case JSONs.</summary>
    public static TheoryData<string, string> Cases
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (var checkpoint in SingleFileFixtures.Checkpoints)
                foreach (var info in ParityFixtures.Cases.Where(ParityFixtures.IsPlainPipelineCase))
                    if (SingleFileFixtures.ModelDirOf(info.Name) is { } modelDir && SingleFileFixtures.IsSameFolder(modelDir, checkpoint.SameWeightsAs))
                        data.Add(checkpoint.Name, info.Name);
            if (data.Count == 0)
                data.Add("(none)", "(none)");
            return data;
        }
    }

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void PipelineLoadedFromSingleFileMatchesDiffusers(string checkpointName, string caseName)
    {
        Skip.If(checkpointName == "(none)", "the fixture set has no single-file checkpoints");
        using var parity = ParityFixtures.Load(caseName);
        var reason = PipelineParityTests.UnsupportedReason(parity);
        Skip.If(reason is not null, reason);
        var checkpoint = SingleFileFixtures.Checkpoints.Single(c => c.Name == checkpointName);
        using var pipeline = StableDiffusionPipeline.LoadSingleFile(checkpoint.FullPath, ParityFixtures.PathOf(checkpoint.SameWeightsAs),
            new PipelineOptions("cpu", "float32"));
        PipelineParityTests.AssertMatchesGoldens(parity, pipeline);
    }
}
