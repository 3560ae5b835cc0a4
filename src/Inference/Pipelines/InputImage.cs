using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Pipelines;

/// <summary>
/// An image (or mask) given to a pipeline: a float tensor in [0, 1] (N = 1, NCHW, as diffusers accepts
/// torch tensors), or 8-bit pixels (as diffusers converts PIL images: value / 255). The pipeline reads it
/// and never disposes a tensor it did not create.
/// </summary>
public sealed class InputImage
{
    private readonly Tensor? _tensor;
    private readonly byte[]? _pixels;

    private InputImage(Tensor? tensor, byte[]? pixels, int width, int height, int channels)
    {
        _tensor = tensor;
        _pixels = pixels;
        Width = width;
        Height = height;
        Channels = channels;
    }

    public int Width { get; }
    public int Height { get; }

    /// <summary>3 for colour, 1 for grayscale (masks).</summary>
    public int Channels { get; }

    /// <summary>A (1, C, H, W) or (C, H, W) float tensor with values in [0, 1]; C is 3 (image) or 1 (mask).</summary>
    public static InputImage FromTensor(Tensor unitNchw)
    {
        ArgumentNullException.ThrowIfNull(unitNchw);
        var shape = unitNchw.shape;
        if (shape.Length == 3)
            shape = [1, .. shape];
        if (shape.Length != 4 || shape[0] != 1 || shape[1] is not (1 or 3))
            throw new ArgumentException($"An input image tensor must be (1, 3|1, H, W) or (3|1, H, W); got [{string.Join(", ", unitNchw.shape)}].", nameof(unitNchw));
        if (!unitNchw.is_floating_point())
            throw new ArgumentException($"An input image tensor must hold floats in [0, 1]; got {unitNchw.dtype}.", nameof(unitNchw));
        return new InputImage(unitNchw, null, (int)shape[3], (int)shape[2], (int)shape[1]);
    }

    /// <summary>8-bit RGB, row-major, height × width × 3.</summary>
    public static InputImage FromRgb(int width, int height, byte[] rgb) => FromPixels(width, height, rgb, 3);

    /// <summary>8-bit grayscale, row-major, height × width (a mask: 255 = repaint).</summary>
    public static InputImage FromGray(int width, int height, byte[] gray) => FromPixels(width, height, gray, 1);

    private static InputImage FromPixels(int width, int height, byte[] pixels, int channels)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        if (width <= 0 || height <= 0)
            throw new ArgumentException($"Image size must be positive; got {width}×{height}.");
        if (pixels.Length != (long)width * height * channels)
            throw new ArgumentException($"A {width}×{height} image with {channels} channel(s) needs {(long)width * height * channels} bytes; got {pixels.Length}.");
        return new InputImage(null, pixels, width, height, channels);
    }

    /// <summary>(1, 3, H, W) float32 in [0, 1]; grayscale is repeated over the channels.</summary>
    internal Tensor ToRgbTensor(Device device)
    {
        using var scope = torch.NewDisposeScope();
        var unit = ToUnitTensor(); // (1, C, H, W)
        if (unit.shape[1] == 1)
            unit = unit.expand(1, 3, Height, Width);
        return unit.contiguous().to(device).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// (1, 1, H, W) float32 in [0, 1]. Colour pixels become PIL's "L" luminance (ITU-R 601-2, integer
    /// rounding), as diffusers' mask processor converts masks to grayscale; colour tensors are refused.
    /// </summary>
    internal Tensor ToGrayTensor(Device device)
    {
        using var scope = torch.NewDisposeScope();
        Tensor unit;
        if (Channels == 1)
            unit = ToUnitTensor();
        else if (_pixels is not null)
        {
            var gray = new byte[Width * Height];
            for (var i = 0; i < gray.Length; i++)
                gray[i] = (byte)((_pixels[3 * i] * 19595 + _pixels[3 * i + 1] * 38470 + _pixels[3 * i + 2] * 7471 + 0x8000) >> 16);
            unit = torch.tensor(gray, [1, 1, Height, Width]).to(float32) / 255.0f;
        }
        else
            throw new ArgumentException("A mask tensor must have one channel.");
        return unit.contiguous().to(device).MoveToOuterDisposeScope();
    }

    /// <summary>8-bit RGB, row-major, height × width × 3 (a tensor's values rounded to the nearest 1/255).</summary>
    internal byte[] ToRgbBytes()
    {
        if (_pixels is not null && Channels == 3)
            return (byte[])_pixels.Clone();
        using var scope = torch.NewDisposeScope();
        var hwc = (ToRgbTensor(CPU) * 255).round().clamp(0, 255).to(uint8)[0].permute(1, 2, 0).contiguous();
        return hwc.data<byte>().ToArray();
    }

    private Tensor ToUnitTensor()
    {
        if (_tensor is not null)
            return _tensor.reshape(1, Channels, Height, Width).to(float32);
        var hwc = torch.tensor(_pixels!, [Height, Width, Channels]); // uint8 (H, W, C)
        return (hwc.permute(2, 0, 1).unsqueeze(0).to(float32) / 255.0f); // (1, C, H, W)
    }
}
