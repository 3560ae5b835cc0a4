using Easel.Inference.Loading;
using Easel.Inference.Tests.Parity;
using Easel.Inference.Text;

namespace Easel.Inference.Tests.Text;

public sealed class ClipTextModelTests
{
    [Fact]
    public void FromPretrained_RejectsACheckpointWithKeysTheModelDoesNotHave()
    {
        // text_encoder_2 of SDXL carries text_projection.weight, which a plain CLIPTextModel has no place for.
        var folder = ParityFixtures.PathOf("models/sdxl/text_encoder_2");
        var error = Assert.Throws<CheckpointMismatchException>(() => ClipTextModel.FromPretrained(folder));
        Assert.Contains("text_projection.weight", error.Unexpected);
    }

    [Fact]
    public void Constructor_RefusesAnUnknownActivation()
    {
        var config = new ClipTextConfig { VocabSize = 10, HiddenSize = 8, IntermediateSize = 8, NumHiddenLayers = 1, NumAttentionHeads = 2, HiddenAct = "swish" };
        Assert.Throws<NotSupportedException>(() => new ClipTextModel(config));
    }

    [Fact]
    public void Forward_ReturnsEmbeddingOutputPlusOneHiddenStatePerLayer()
    {
        using var model = ClipTextModel.FromPretrained(ParityFixtures.PathOf("models/sd15/text_encoder"));
        using var noGrad = TorchSharp.torch.no_grad();
        var tokenizer = ClipTokenizer.FromPretrained(ParityFixtures.PathOf("models/sd15/tokenizer"));
        using var ids = tokenizer.EncodeBatch(["a cat"]);
        using var output = model.forward(ids);
        Assert.Equal(model.Config.NumHiddenLayers + 1, output.HiddenStates.Count);
        Assert.Equal([1L, tokenizer.ModelMaxLength, model.Config.HiddenSize], output.LastHiddenState.shape);
        Assert.Equal([1L, model.Config.HiddenSize], output.PoolerOutput.shape);
    }
}
