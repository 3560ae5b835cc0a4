using static TorchSharp.torch;

namespace Easel.Inference.Loading;

/// <summary>
/// Where the tensors of one model component come from: the safetensors files of a diffusers component folder
/// (<see cref="SafeTensorsWeightSource"/>), or one component's slice of a single-file checkpoint with its names
/// converted on the fly (<see cref="SingleFile.SingleFileCheckpoint"/>). <see cref="WeightLoader.LoadInto(TorchSharp.torch.nn.Module, IWeightSource)"/>
/// consumes a source strictly, one stored tensor at a time.
/// </summary>
public interface IWeightSource
{
    /// <summary>Names the component and where it is read from, for error messages (e.g. "unet" or "sd15.safetensors (unet)").</summary>
    string Component { get; }

    /// <summary>
    /// The stored tensors of the component, each with the module parameter(s) it fills. Keys the source knows to be
    /// unused are not listed; a tensor whose name could not be converted is listed with no targets and is reported
    /// as unexpected.
    /// </summary>
    IEnumerable<StoredTensor> Tensors();
}

/// <summary>
/// One stored tensor: its key in the checkpoint, its stored shape, how to read it (onto the CPU, in its stored
/// dtype; the loader disposes it) and the parameters it fills. A fused tensor (OpenCLIP's in_proj_weight) fills
/// several targets from one read.
/// </summary>
public sealed record StoredTensor(string Key, long[] Shape, Func<Tensor> Read, IReadOnlyList<WeightTarget> Targets)
{
    /// <summary>A tensor stored under the module's own name, without a transform.</summary>
    public static StoredTensor Identity(string key, long[] shape, Func<Tensor> read) =>
        new(key, shape, read, [new WeightTarget(key, shape)]);
}

/// <summary>
/// One module parameter or buffer filled from a <see cref="StoredTensor"/>: its module key, the shape the
/// transform produces, and the transform (a view such as a row slice, reshape or transpose; null = as stored).
/// </summary>
public sealed record WeightTarget(string Key, long[] Shape, Func<Tensor, Tensor>? Transform = null);
