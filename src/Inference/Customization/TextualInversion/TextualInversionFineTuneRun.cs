using Easel.Inference.Pipelines;
using Easel.Inference.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Customization.TextualInversion;

/// <summary>
/// One textual-inversion fine-tune (see <see cref="TextualInversionFineTune"/>). The token's rows are appended to the token
/// table only inside the training loss and the run's own generations (the text encoder's added-row lookup), so the pipeline's
/// tokenizer and text encoder are never changed.
/// </summary>
internal sealed class TextualInversionFineTuneRun : IFineTuneRun
{
    private readonly StableDiffusionPipeline _pipeline;
    private readonly string _token;
    private readonly TrainableTensors _tensors;
    private readonly Tensor _vectors;
    private readonly DiffusionFineTuneLoop _loop;

    public TextualInversionFineTuneRun(StableDiffusionPipeline pipeline, FineTuneSettings settings)
    {
        var parameters = new FineTuneParameters(TextualInversionFineTune.MethodName, settings.Parameters, "token", "initializer_token", "num_vectors");
        _token = parameters.String("token");
        var initializer = parameters.String("initializer_token", TextualInversionFineTune.DefaultInitializer);
        var vectorCount = parameters.Int("num_vectors", 1, minimum: 1);
        if (_token.Any(char.IsWhiteSpace))
            throw parameters.Invalid("token", $"must be one word without spaces; got '{_token}'");
        if (settings.Examples?.FirstOrDefault(e => e.Caption?.Contains(_token, StringComparison.Ordinal) != true) is { } without)
            throw parameters.Invalid("token", $"must appear in every caption (it is what the captions teach); '{without.Caption}' lacks '{_token}'");

        var clip = DiffusionFineTuneLoop.ClipOf(pipeline);
        Text.ClipTokenizer tokenizer;
        try
        {
            tokenizer = clip.Tokenizer.WithAddedTokens([(_token, vectorCount)]);
        }
        catch (ArgumentException e)
        {
            throw parameters.Invalid("token", $"cannot be added: {e.Message}");
        }
        var initializerIds = clip.Tokenizer.EncodeTokens(initializer);
        if (initializerIds.Count != 1 || initializerIds[0] == clip.Tokenizer.UnkTokenId)
            throw parameters.Invalid("initializer_token", $"must be a single token of the vocabulary; '{initializer}' is {initializerIds.Count} tokens");

        _pipeline = pipeline;
        _tensors = new TrainableTensors("embedding");
        try
        {
            using (var scope = torch.NewDisposeScope())
            {
                var table = clip.TextEncoder.TextModel.Embeddings.TokenEmbedding.weight!; // [vocab, hidden]
                var initial = table[initializerIds[0]].unsqueeze(0).repeat(vectorCount, 1); // [n, hidden]
                _vectors = _tensors.Add("vectors", initial);
            }
            _loop = new DiffusionFineTuneLoop(pipeline, settings, TextualInversionFineTune.MethodName, _tensors, tokenizer, _vectors);
        }
        catch
        {
            _tensors.Dispose();
            throw;
        }
    }

    public int TotalSteps => _loop.TotalSteps;

    public int Step => _loop.Step;

    public void RunUntil(int stopAt, IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default) =>
        _loop.RunUntil(stopAt, progress, cancellationToken);

    /// <summary>Generates with the vectors as trained so far added to the request's embeddings; its prompts may use the token.</summary>
    public IReadOnlyList<GeneratedImage> Generate(TextToImageRequest request, CancellationToken cancellationToken = default)
    {
        using var embedding = Snapshot();
        return _pipeline.Generate(request with { Embeddings = [.. request.Embeddings ?? [], embedding] }, cancellationToken: cancellationToken);
    }

    /// <summary>Writes diffusers' <see cref="TextualInversionFile.DiffusersFileName"/>: {token: [n, hidden]}.</summary>
    public FineTuneArtifact Export(string folder)
    {
        using var embedding = Snapshot();
        var (path, format) = TextualInversionFile.Write(folder, embedding);
        return new FineTuneArtifact("embedding", format, [path], new Dictionary<string, object?>
        {
            ["token"] = _token,
            ["vector_count"] = embedding.VectorCount,
        });
    }

    /// <summary>A copy of the vectors as they are now, detached from training (the embedding takes its copy out of the scope).</summary>
    private TextualInversionEmbedding Snapshot()
    {
        using var scope = torch.NewDisposeScope();
        return new(_token, new Dictionary<string, Tensor> { [TextualInversionEmbedding.TextEncoder] = _vectors.detach().clone() }, "diffusers");
    }

    public void Dispose()
    {
        _loop.Dispose();
        _tensors.Dispose();
    }
}
