using Easel.Inference.Customization.TextualInversion;
using Easel.Inference.Text.Prompting;

namespace Easel.Inference.Pipelines;

/// <summary>The prompt encoder of one request: the cached one, or — when the request brings embeddings — one that adds their tokens for it alone.</summary>
internal static class RequestEncoder
{
    /// <param name="encoderNames">The component names of <paramref name="cached"/>'s branches, in branch order.</param>
    /// <exception cref="ArgumentException">An embedding that does not fit one of the text encoders (the message says which and why).</exception>
    public static PromptEncoder For(PromptEncoder cached, GenerationRequest request, IReadOnlyList<string> encoderNames)
    {
        if (request.Embeddings is not { Count: > 0 } embeddings)
            return cached;
        var encoders = encoderNames.Zip(cached.Branches, (name, branch) => (name, branch.HiddenSize)).ToList();
        return cached.WithAddedTokens(TextualInversionEmbedding.ForEncoders(embeddings, encoders));
    }
}
