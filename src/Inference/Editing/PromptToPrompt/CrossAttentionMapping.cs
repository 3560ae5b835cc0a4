using Easel.Inference.Text.Prompting;
using Easel.Inference.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Editing.PromptToPrompt;

/// <summary>
/// How the edited prompt's cross-attention maps are taken from the source's (Hertz et al. 2022, §3.2): a word swap maps
/// the tokens of each replaced word onto its replacement's (M* = M mapped), a refinement keeps the source's maps for the
/// tokens the two prompts share, aligned, and the edited prompt's own maps for the added ones.
/// </summary>
public abstract class CrossAttentionMapping
{
    /// <summary>The edited prompt's maps built from the source's.</summary>
    /// <param name="source">(h, N, T) the source row's attention probabilities over its T tokens.</param>
    /// <param name="edit">(h, N, T) the edited row's.</param>
    public abstract Tensor Map(Tensor source, Tensor edit);

    /// <summary>A word swap when both prompts have as many words, else a refinement.</summary>
    public static CrossAttentionMapping For(ClipTokenizer tokenizer, string source, string edit, int tokens)
    {
        var a = PromptWords.Of(tokenizer, source);
        var b = PromptWords.Of(tokenizer, edit);
        return a.Words.Count == b.Words.Count ? new WordSwap(a, b, tokens) : new Refinement(tokenizer, source, edit, tokens);
    }

    /// <summary>
    /// Word swap: a (T, T) matrix with 1 where source token i becomes edited token j — word by word, token by token when
    /// the two words have as many tokens, a source word's tokens spread evenly over its replacement's otherwise.
    /// </summary>
    public sealed class WordSwap : CrossAttentionMapping
    {
        public WordSwap(PromptWords source, PromptWords edit, int tokens)
        {
            if (source.Words.Count != edit.Words.Count)
                throw new ArgumentException($"A word swap needs prompts of as many words; got {source.Words.Count} and {edit.Words.Count}.");
            var mapper = new float[tokens, tokens];
            mapper[0, 0] = 1; // the start token
            var (i, j) = (1, 1);
            for (var w = 0; w < source.Words.Count; w++)
            {
                var (from, to) = (source.Positions[w], edit.Positions[w]);
                if (from.Length == to.Length)
                    for (var k = 0; k < from.Length; k++)
                        mapper[from[k], to[k]] = 1;
                else
                    foreach (var f in from)
                        foreach (var t in to)
                            mapper[f, t] = 1f / to.Length;
                i += from.Length;
                j += to.Length;
            }
            // The end and padding tokens: position by position after the words.
            for (; i < tokens && j < tokens; i++, j++)
                mapper[i, j] = 1;
            Mapper = torch.tensor(mapper).DetachFromDisposeScope();
        }

        /// <summary>(T, T): edited token j's map = Σ_i source token i's map · Mapper[i, j].</summary>
        public Tensor Mapper { get; }

        public override Tensor Map(Tensor source, Tensor edit) => torch.matmul(source, Mapper.to(source.dtype).to(source.device));
    }

    /// <summary>
    /// Refinement: the token sequences aligned globally (Needleman–Wunsch; match 1, mismatch −1, gap 0, as the paper's
    /// aligner scores them), each edited token that aligns with a source token takes that token's map, the others keep
    /// their own: M* = M[:, :, A] · α + M_edit · (1 − α).
    /// </summary>
    public sealed class Refinement : CrossAttentionMapping
    {
        public Refinement(ClipTokenizer tokenizer, string source, string edit, int tokens)
        {
            var x = tokenizer.Encode(source, tokens).InputIds;
            var y = tokenizer.Encode(edit, tokens).InputIds;
            var aligned = Align(x, y);
            SourceIndex = torch.tensor(aligned.Select(a => (long)Math.Max(a, 0)).ToArray()).DetachFromDisposeScope();
            Alphas = torch.tensor(aligned.Select(a => a >= 0 ? 1f : 0f).ToArray()).DetachFromDisposeScope();
        }

        /// <summary>(T,) the source token each edited token takes its map from (0 where none).</summary>
        public Tensor SourceIndex { get; }

        /// <summary>(T,) 1 where the edited token aligns with a source token, 0 for the added ones.</summary>
        public Tensor Alphas { get; }

        public override Tensor Map(Tensor source, Tensor edit)
        {
            var alphas = Alphas.to(source.dtype).to(source.device);
            return source.index_select(-1, SourceIndex.to(source.device)) * alphas + edit * (1 - alphas);
        }

        /// <summary>For each position of <paramref name="y"/>, the aligned position of <paramref name="x"/>, or −1.</summary>
        public static int[] Align(IReadOnlyList<long> x, IReadOnlyList<long> y)
        {
            var (n, m) = (x.Count, y.Count);
            var score = new int[n + 1, m + 1];
            for (var i = 1; i <= n; i++)
                for (var j = 1; j <= m; j++)
                    score[i, j] = Math.Max(Math.Max(score[i - 1, j], score[i, j - 1]), score[i - 1, j - 1] + (x[i - 1] == y[j - 1] ? 1 : -1));
            var mapped = Enumerable.Repeat(-1, m).ToArray();
            for (int i = n, j = m; i > 0 && j > 0;)
            {
                if (x[i - 1] == y[j - 1] && score[i, j] == score[i - 1, j - 1] + 1)
                {
                    mapped[j - 1] = i - 1;
                    (i, j) = (i - 1, j - 1);
                }
                else if (score[i, j] == score[i - 1, j])
                    i--;
                else if (score[i, j] == score[i, j - 1])
                    j--;
                else
                    (i, j) = (i - 1, j - 1);
            }
            return mapped;
        }
    }
}
