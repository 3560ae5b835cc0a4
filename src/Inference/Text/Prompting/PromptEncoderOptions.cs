namespace Easel.Inference.Text.Prompting;

/// <summary>Settings of <see cref="PromptEncoder"/>; the defaults are A1111's.</summary>
public sealed record PromptEncoderOptions
{
    public EmphasisMode Emphasis { get; init; } = EmphasisMode.Original;

    /// <summary>See <see cref="PromptChunker.CommaBacktrack"/>; 0 turns comma backtracking off.</summary>
    public int CommaBacktrack { get; init; } = PromptChunker.DefaultCommaBacktrack;
}
