using static TorchSharp.torch;

namespace Easel.Inference.Models;

/// <summary>
/// What one UNet call tells its attention processors and grounding layers: where in the denoising loop it runs and
/// the request's extra inputs (token maps, grounding tokens, phrase encodings), looked up by type. It is passed once
/// to the UNet (<see cref="UNet.UNetConditioning.Attention"/>) and handed down unchanged to every attention call, so a
/// method adds an input type here instead of a parameter to every block.
/// </summary>
public sealed class AttentionContext
{
    private readonly IReadOnlyDictionary<Type, object> _inputs;

    /// <param name="stepIndex">The loop's step (0-based), or -1 outside a denoising loop.</param>
    /// <param name="totalSteps">The loop's number of steps (0 outside a loop).</param>
    /// <param name="timestep">The step's timestep, or null.</param>
    public AttentionContext(int stepIndex = -1, int totalSteps = 0, Tensor? timestep = null, IReadOnlyDictionary<Type, object>? inputs = null)
    {
        StepIndex = stepIndex;
        TotalSteps = totalSteps;
        Timestep = timestep;
        _inputs = inputs ?? new Dictionary<Type, object>();
    }

    public int StepIndex { get; }

    public int TotalSteps { get; }

    public Tensor? Timestep { get; }

    /// <summary>The input of type <typeparamref name="T"/>, or null when the request has none.</summary>
    public T? Get<T>() where T : class => _inputs.TryGetValue(typeof(T), out var value) ? (T)value : null;

    /// <summary>A context with <paramref name="input"/> added (replacing an input of the same type).</summary>
    public AttentionContext With<T>(T input) where T : class
    {
        var inputs = new Dictionary<Type, object>(_inputs) { [typeof(T)] = input };
        return new AttentionContext(StepIndex, TotalSteps, Timestep, inputs);
    }

    /// <summary>The same inputs at another step of the loop.</summary>
    public AttentionContext AtStep(int stepIndex, int totalSteps, Tensor? timestep) =>
        new(stepIndex, totalSteps, timestep, _inputs);
}
