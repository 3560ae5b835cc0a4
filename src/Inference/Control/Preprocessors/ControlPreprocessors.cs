using System.Diagnostics.CodeAnalysis;

namespace Easel.Inference.Control.Preprocessors;

/// <summary>The preprocessors by name.</summary>
public static class ControlPreprocessors
{
    public static IReadOnlyList<IControlPreprocessor> All { get; } =
    [
        new NonePreprocessor(),
        new CannyPreprocessor(),
        new ScribblePreprocessor(),
        new LineartPreprocessor(),
        new ColorPreprocessor(),
        new ShufflePreprocessor(),
        new InvertPreprocessor(),
    ];

    public static IReadOnlyList<string> Names { get; } = [.. All.Select(p => p.Name)];

    /// <summary>The preprocessor named <paramref name="name"/> (case-insensitive, surrounding spaces ignored).</summary>
    public static bool TryGet(string? name, [NotNullWhen(true)] out IControlPreprocessor? preprocessor)
    {
        preprocessor = All.FirstOrDefault(p => string.Equals(p.Name, name?.Trim(), StringComparison.OrdinalIgnoreCase));
        return preprocessor is not null;
    }
}
