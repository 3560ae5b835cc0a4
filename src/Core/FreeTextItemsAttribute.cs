namespace Easel.Core;

/// <summary>
/// Marks a list of free text (captions, prompts): in a multipart form one value is one item, never split on commas as the
/// values of other lists are.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Parameter)]
public sealed class FreeTextItemsAttribute : Attribute;
