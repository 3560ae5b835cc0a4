namespace Easel.Inference.Text.Prompting;

/// <summary>How emphasis weights act on the embeddings (A1111's "Emphasis mode" setting).</summary>
public enum EmphasisMode
{
    /// <summary>Multiply each token's embedding by its weight, then rescale the chunk so its mean is unchanged (A1111's default).</summary>
    Original,

    /// <summary>Multiply each token's embedding by its weight; no rescaling.</summary>
    NoNorm,

    /// <summary>No emphasis: the prompt is read literally (brackets and BREAK are text) and nothing is weighted.</summary>
    None,
}
