namespace Easel.Inference.Control.ControlNet;

/// <summary>AUTOMATIC1111's ControlNet control modes: how a unit's residuals weigh against the prompt.</summary>
public enum ControlMode
{
    /// <summary>The residuals at the unit's scale on both halves of guidance (diffusers' behaviour).</summary>
    Balanced,

    /// <summary>Soft injection: residual k of n (mid block last) scaled by 0.825^(n−1−k), so shallow skips count least.</summary>
    PromptMoreImportant,

    /// <summary>Soft injection and the residuals on the conditional half only, so guidance amplifies the control.</summary>
    ControlMoreImportant,
}
