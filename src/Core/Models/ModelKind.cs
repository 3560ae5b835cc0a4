namespace Easel.Core.Models;

/// <summary>What a configured model folder holds: a pipeline requests generate with, or a control model added to one.</summary>
public enum ModelKind
{
    /// <summary>A Stable Diffusion pipeline (diffusers folder or single file).</summary>
    Pipeline,

    /// <summary>A diffusers ControlNetModel folder (config.json <c>_class_name</c> ControlNetModel).</summary>
    ControlNet,

    /// <summary>A diffusers T2IAdapter folder (config.json <c>_class_name</c> T2IAdapter).</summary>
    T2IAdapter,
}
