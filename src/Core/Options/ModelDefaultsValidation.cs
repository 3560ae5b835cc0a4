using System.Globalization;
using Microsoft.Extensions.Options;

namespace Easel.Core.Options;

/// <summary>
/// Start-up check that each <c>Easel:Models:&lt;name&gt;:Defaults:*</c> passes the request limits of
/// <c>Easel:Generation</c>: a model default outside them would make every request for that model that omits the field
/// fail (<c>Defaults:Steps=200</c> with <c>MaxSteps=150</c>).
/// </summary>
public sealed class ModelDefaultsValidation(IOptions<GenerationOptions> generation, Generation.SchedulerCatalog schedulers)
    : IValidateOptions<ModelsOptions>
{
    public ValidateOptionsResult Validate(string? name, ModelsOptions options)
    {
        GenerationOptions limits;
        try
        {
            limits = generation.Value;
        }
        catch (OptionsValidationException)
        {
            // The limits' own failures are reported with Easel:Generation.
            return ValidateOptionsResult.Skip;
        }

        var failures = new List<string>();
        foreach (var (model, configured) in options.Models)
        {
            if (configured.Defaults is not { } defaults)
                continue;
            var key = $"Easel:Models:{model}:Defaults";
            foreach (var (side, value) in new[] { ("Width", defaults.Width), ("Height", defaults.Height) })
            {
                if (value is { } size && (size % 8 != 0 || size < limits.MinSize || size > limits.MaxSize))
                    failures.Add($"{key}:{side} ({size}) must be a multiple of 8 between {GenerationOptions.Section}:MinSize "
                                 + $"({limits.MinSize}) and {GenerationOptions.Section}:MaxSize ({limits.MaxSize})");
            }
            if (defaults is { Width: { } width, Height: { } height } && (long)width * height > limits.MaxPixels)
                failures.Add($"{key}:Width × Height ({(long)width * height}) must be ≤ {GenerationOptions.Section}:MaxPixels ({limits.MaxPixels})");
            if (defaults.Steps is { } steps && (steps < 1 || steps > limits.MaxSteps))
                failures.Add($"{key}:Steps ({steps}) must be between 1 and {GenerationOptions.Section}:MaxSteps ({limits.MaxSteps})");
            if (defaults.GuidanceScale is { } guidance && (!double.IsFinite(guidance) || guidance < 0 || guidance > limits.MaxGuidanceScale))
                failures.Add($"{key}:GuidanceScale ({guidance.ToString(CultureInfo.InvariantCulture)}) must be between 0 and "
                             + $"{GenerationOptions.Section}:MaxGuidanceScale ({limits.MaxGuidanceScale.ToString(CultureInfo.InvariantCulture)})");
            if (defaults.Scheduler is { } scheduler && !schedulers.TryResolve(scheduler, out _))
                failures.Add($"{key}:Scheduler '{scheduler}' is not a known scheduler ({string.Join(", ", schedulers.Names)})");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
