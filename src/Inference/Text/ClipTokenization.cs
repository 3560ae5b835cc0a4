namespace Easel.Inference.Text;

/// <summary>
/// One prompt tokenized as diffusers pipelines call the CLIP tokenizer
/// (<c>padding="max_length", max_length=77, truncation=True</c>).
/// </summary>
/// <param name="InputIds">BOS + tokens + EOS, truncated to the model length (EOS kept last) and right-padded with the pad id.</param>
/// <param name="AttentionMask">1 for BOS, tokens and EOS; 0 for padding.</param>
/// <param name="UntruncatedIds">BOS + every token + EOS, without truncation or padding (to detect and report overflow).</param>
public sealed record ClipTokenization(IReadOnlyList<long> InputIds, IReadOnlyList<long> AttentionMask, IReadOnlyList<long> UntruncatedIds)
{
    /// <summary>True when the prompt did not fit and tokens were dropped.</summary>
    public bool WasTruncated => UntruncatedIds.Count > InputIds.Count;
}
