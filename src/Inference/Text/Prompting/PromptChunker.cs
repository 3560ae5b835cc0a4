namespace Easel.Inference.Text.Prompting;

/// <summary>
/// Turns a prompt into 77-token text-encoder inputs as AUTOMATIC1111 does (<c>sd_hijack_clip.py</c>,
/// <c>tokenize_line</c>): every fragment of <see cref="EmphasisParser"/> is tokenized on its own, its weight carried
/// by each of its tokens; the tokens fill 75-token windows, each framed as BOS + window + EOS and padded to 77.
/// </summary>
/// <remarks>
/// <para>Comma backtracking: when a window is full and the next token is not a comma, and the window's last comma
/// is within the last <see cref="CommaBacktrack"/> tokens, the tokens after that comma move to the next window, so
/// a comma-separated phrase is not cut in two. 0 turns it off; A1111's default is 20.</para>
/// <para><c>BREAK</c> closes the current window (even an empty one, so a leading BREAK gives an empty first
/// chunk); a prompt ending in BREAK gets no extra empty chunk. The empty prompt gives one chunk.</para>
/// <para>Padding after EOS uses the tokenizer's pad token (EOS for SD 1.x and SDXL's first tokenizer, "!" for
/// SD 2.x and SDXL's second), so a prompt of at most 75 tokens gives exactly the ids of
/// <see cref="ClipTokenizer.Encode"/>.</para>
/// </remarks>
public sealed class PromptChunker
{
    /// <summary>A1111's default <c>comma_padding_backtrack</c>.</summary>
    public const int DefaultCommaBacktrack = 20;

    private readonly Func<string, IReadOnlyList<long>> _encode;
    private readonly long _bos;
    private readonly long _eos;
    private readonly long _pad;
    private readonly long? _comma;

    /// <summary>Chunks with a CLIP tokenizer; windows are <c>ModelMaxLength - 2</c> (75) tokens long.</summary>
    public PromptChunker(ClipTokenizer tokenizer, int commaBacktrack = DefaultCommaBacktrack)
        : this(tokenizer.EncodeTokens, tokenizer.BosTokenId, tokenizer.EosTokenId, tokenizer.PadTokenId,
            CommaId(tokenizer), tokenizer.ModelMaxLength - 2, commaBacktrack)
    {
    }

    /// <summary>The general form: any tokenizer function and special ids (tests use small synthetic vocabularies).</summary>
    internal PromptChunker(Func<string, IReadOnlyList<long>> encode, long bos, long eos, long pad, long? comma,
        int chunkLength, int commaBacktrack)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkLength, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(commaBacktrack);
        _encode = encode;
        _bos = bos;
        _eos = eos;
        _pad = pad;
        _comma = comma;
        ChunkLength = chunkLength;
        CommaBacktrack = commaBacktrack;
    }

    /// <summary>Prompt tokens per chunk (75 for CLIP).</summary>
    public int ChunkLength { get; }

    /// <summary>Text-encoder sequence length: <see cref="ChunkLength"/> + BOS + EOS (77 for CLIP).</summary>
    public int SequenceLength => ChunkLength + 2;

    /// <summary>How far back (in tokens) a full window may be cut at its last comma; 0 = never.</summary>
    public int CommaBacktrack { get; }

    /// <summary>Parses the prompt's emphasis syntax (unless <paramref name="emphasis"/> is false) and chunks it.</summary>
    /// <param name="emphasis">False reads the prompt literally, brackets and BREAK included (A1111's emphasis "None").</param>
    public IReadOnlyList<PromptChunk> Chunk(string prompt, bool emphasis = true)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        return Chunk(emphasis ? EmphasisParser.Parse(prompt) : [new PromptFragment(prompt, 1.0)]);
    }

    /// <summary>Chunks parsed fragments.</summary>
    public IReadOnlyList<PromptChunk> Chunk(IReadOnlyList<PromptFragment> fragments)
    {
        var chunks = new List<PromptChunk>();
        var ids = new List<long>(ChunkLength);
        var weights = new List<float>(ChunkLength);
        var lastComma = -1; // index in the current window of its last comma

        void Close()
        {
            chunks.Add(Frame(ids, weights));
            ids.Clear();
            weights.Clear();
            lastComma = -1;
        }

        foreach (var fragment in fragments)
        {
            if (fragment.IsBreak)
            {
                Close();
                continue;
            }
            var weight = (float)fragment.Weight;
            foreach (var id in _encode(fragment.Text))
            {
                if (id == _comma)
                {
                    lastComma = ids.Count;
                }
                else if (CommaBacktrack > 0 && ids.Count == ChunkLength && lastComma >= 0 && ChunkLength - lastComma <= CommaBacktrack)
                {
                    // Move everything after the comma into the next window.
                    var keep = lastComma + 1;
                    var movedIds = ids.GetRange(keep, ids.Count - keep);
                    var movedWeights = weights.GetRange(keep, weights.Count - keep);
                    ids.RemoveRange(keep, ids.Count - keep);
                    weights.RemoveRange(keep, weights.Count - keep);
                    Close();
                    ids.AddRange(movedIds);
                    weights.AddRange(movedWeights);
                }
                if (ids.Count == ChunkLength)
                    Close();
                ids.Add(id);
                weights.Add(weight);
            }
        }
        if (ids.Count > 0 || chunks.Count == 0)
            Close();
        return chunks;
    }

    /// <summary>The chunk of the empty prompt: BOS, EOS, padding; all weights 1.</summary>
    public PromptChunk EmptyChunk() => Frame([], []);

    private PromptChunk Frame(List<long> ids, List<float> weights)
    {
        var framedIds = new List<long>(SequenceLength) { _bos };
        framedIds.AddRange(ids);
        framedIds.Add(_eos);
        var framedWeights = new List<float>(SequenceLength) { 1f };
        framedWeights.AddRange(weights);
        framedWeights.Add(1f);
        while (framedIds.Count < SequenceLength)
        {
            framedIds.Add(_pad);
            framedWeights.Add(1f);
        }
        return new PromptChunk(framedIds, framedWeights, ids.Count);
    }

    // CLIP's vocabulary holds "," as the word-final ",</w>"; a vocabulary without it gets no comma backtracking.
    private static long? CommaId(ClipTokenizer tokenizer)
    {
        var id = tokenizer.IdOf(",</w>");
        return id == tokenizer.UnkTokenId ? null : id;
    }
}
