namespace Easel.Inference.Control.Preprocessors;

/// <summary>How a control image is brought to the output size (A1111's resize modes).</summary>
public enum ControlResizeMode
{
    /// <summary>Stretch to the output size ("Just Resize").</summary>
    Resize,

    /// <summary>Scale to cover the output, then cut the overhang evenly from both sides ("Crop and Resize", A1111's default).</summary>
    Crop,

    /// <summary>Scale to fit inside the output, centred on the median colour of the image's border ("Resize and Fill").</summary>
    Fill,
}
