using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Models;

/// <summary>
/// Sinusoidal timestep projection (diffusers' Timesteps / get_timestep_embedding):
/// exp(−ln(10000)·i/(half − freq_shift)) frequencies, [sin, cos] or, with flip_sin_to_cos, [cos, sin].
/// </summary>
public sealed class Timesteps : nn.Module<Tensor, Tensor>
{
    private const double MaxPeriod = 10000;
    private readonly long _dim;
    private readonly bool _flipSinToCos;
    private readonly double _freqShift;

    public Timesteps(long numChannels, bool flipSinToCos, double freqShift, string name = "time_proj") : base(name)
    {
        _dim = numChannels;
        _flipSinToCos = flipSinToCos;
        _freqShift = freqShift;
        RegisterComponents();
    }

    /// <param name="timesteps">(N) timesteps, integer or float.</param>
    /// <returns>(N, numChannels) float32 embedding.</returns>
    public override Tensor forward(Tensor timesteps)
    {
        using var scope = torch.NewDisposeScope();
        var half = _dim / 2;
        var exponent = torch.arange(0, half, dtype: ScalarType.Float32, device: timesteps.device) * -Math.Log(MaxPeriod); // (half)
        exponent = exponent / (half - _freqShift);
        var freqs = torch.exp(exponent); // (half)
        var args = timesteps.unsqueeze(1).to(ScalarType.Float32) * freqs.unsqueeze(0); // (N, half)
        var emb = torch.cat([torch.sin(args), torch.cos(args)], -1); // (N, 2·half)
        if (_flipSinToCos)
            emb = torch.cat([emb[.., (int)half..], emb[.., ..(int)half]], -1); // (N, 2·half)
        if (_dim % 2 == 1)
            emb = nn.functional.pad(emb, [0, 1, 0, 0]); // (N, dim)
        return emb.MoveToOuterDisposeScope();
    }
}
