using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Reflection;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Easel.Core.Options;

/// <summary>
/// The DataAnnotations of an options class bound from one configuration section, checked with messages that name the full
/// key and the value (<c>Easel:Generation:MaxSteps (0) must be between 1 and 1000</c>) instead of the bare member name
/// DataAnnotations would use. Like <c>ValidateDataAnnotations</c>, <see cref="IValidatableObject.Validate"/> (the
/// cross-field checks, whose messages name their keys themselves) runs only once every single field is valid.
/// </summary>
public sealed class SectionValidation<TOptions>(string? name, string section) : IValidateOptions<TOptions>
    where TOptions : class
{
    public ValidateOptionsResult Validate(string? optionsName, TOptions options)
    {
        if (name is not null && name != optionsName)
            return ValidateOptionsResult.Skip;

        var failures = new List<string>();
        foreach (var property in typeof(TOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.GetIndexParameters().Length > 0)
                continue;
            var value = property.GetValue(options);
            var key = $"{section}:{property.Name}";
            foreach (var attribute in property.GetCustomAttributes<ValidationAttribute>())
            {
                var context = new ValidationContext(options) { MemberName = property.Name, DisplayName = key };
                if (attribute.GetValidationResult(value, context) is { } result && result != ValidationResult.Success)
                    failures.Add(Describe(attribute, key, value, result));
            }
        }
        if (failures.Count == 0 && options is IValidatableObject validatable)
            failures.AddRange(validatable.Validate(new ValidationContext(options)).Select(r => r.ErrorMessage ?? r.ToString()));

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static string Describe(ValidationAttribute attribute, string key, object? value, ValidationResult result) =>
        attribute switch
        {
            _ when attribute.ErrorMessage is not null => result.ErrorMessage!,
            RangeAttribute range => $"{key} ({Format(value)}) must be between {Format(range.Minimum)} and {Format(range.Maximum)}",
            RequiredAttribute => $"{key} must be set",
            _ => result.ErrorMessage!,
        };

    private static string Format(object? value) => value switch
    {
        // As configuration writes it (00:00:00.1), not as a TimeSpan bound prints it (00:00:00.1000000).
        TimeSpan time when time.ToString("c") is var text && text.LastIndexOf('.') > text.LastIndexOf(':') => text.TrimEnd('0'),
        _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "",
    };
}

public static class SectionValidationExtensions
{
    /// <summary>
    /// Validates the options' DataAnnotations and <see cref="IValidatableObject"/> checks with messages naming the keys of
    /// <paramref name="section"/>; use instead of <c>ValidateDataAnnotations()</c>.
    /// </summary>
    public static OptionsBuilder<TOptions> ValidateDataAnnotationsNamingKeys<TOptions>(this OptionsBuilder<TOptions> builder, string section)
        where TOptions : class
    {
        builder.Services.AddSingleton<IValidateOptions<TOptions>>(new SectionValidation<TOptions>(builder.Name, section));
        return builder;
    }
}
