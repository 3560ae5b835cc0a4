using static TorchSharp.torch;

namespace Easel.Inference.Text;

/// <summary>
/// Outputs of a CLIP text encoder forward pass, named like transformers' <c>BaseModelOutputWithPooling</c> /
/// <c>CLIPTextModelOutput</c>. Disposing the record disposes every tensor in it.
/// </summary>
/// <param name="LastHiddenState">[batch, seq, hidden], after <c>final_layer_norm</c>: SD 1.x/2.x conditioning.</param>
/// <param name="PoolerOutput">[batch, hidden]: last_hidden_state at the pooling (EOS) position.</param>
/// <param name="HiddenStates">Embedding output followed by each encoder layer's output (no final norm), length layers + 1.
/// Clip-skip k uses <c>final_layer_norm(HiddenStates[^(k+1)])</c>; SDXL uses <c>HiddenStates[^2]</c> as is.</param>
/// <param name="TextEmbeds">[batch, projection_dim]: <c>text_projection(PoolerOutput)</c>, only for CLIPTextModelWithProjection.</param>
public sealed record ClipTextOutput(Tensor LastHiddenState, Tensor PoolerOutput, IReadOnlyList<Tensor> HiddenStates, Tensor? TextEmbeds = null)
    : IDisposable
{
    /// <summary>The second-to-last hidden state (input of the last layer), as SDXL pipelines use it.</summary>
    public Tensor PenultimateHiddenState => HiddenStates[^2];

    public void Dispose()
    {
        LastHiddenState.Dispose();
        PoolerOutput.Dispose();
        foreach (var state in HiddenStates)
            state.Dispose();
        TextEmbeds?.Dispose();
    }
}
