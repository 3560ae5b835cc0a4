namespace Easel.Inference.Customization.Lora;

/// <summary>Which tensor of one layer's update a LoRA file key holds.</summary>
internal enum LoraKeyPart
{
    Down,
    Up,
    Alpha,
}
