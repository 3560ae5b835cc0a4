namespace Easel.Inference.Customization.Lora;

/// <summary>One LoRA file key split by <see cref="LoraKeyNames.Parse"/>; <paramref name="Stem"/> is the key without its part suffix.</summary>
internal sealed record ParsedLoraKey(LoraFormat? Format, string Component, string Module, LoraKeyPart Part, string Stem);
