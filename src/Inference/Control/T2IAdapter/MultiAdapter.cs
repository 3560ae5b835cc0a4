using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Easel.Inference.Control.T2IAdapter;

/// <summary>
/// diffusers' MultiAdapter: several T2I-Adapters, each on its own condition image, whose features are summed scale by
/// scale with per-adapter weights, Σ_k w_k·F_AD^k(C_k) (Mou et al. 2023, eq. 5). The sum needs every adapter to downscale
/// alike (same downscale_factor and total downscale factor).
/// </summary>
public sealed class MultiAdapter : nn.Module<IReadOnlyList<Tensor>, IReadOnlyList<Tensor>>
{
#pragma warning disable IDE1006 // field names are checkpoint keys
    private readonly ModuleList<T2IAdapterModel> adapters;
#pragma warning restore IDE1006

    /// <param name="models">Two or more adapters (a single one is a <see cref="T2IAdapterModel"/>, as diffusers insists).</param>
    public MultiAdapter(IReadOnlyList<T2IAdapterModel> models) : base(nameof(MultiAdapter))
    {
        if (models.Count < 2)
            throw new ArgumentException($"A MultiAdapter combines at least two adapters; got {models.Count} (use T2IAdapterModel for one).", nameof(models));
        CheckSameDownscaling(models.Select(m => m.Config).ToList());
        adapters = new ModuleList<T2IAdapterModel>(models.ToArray());
        RegisterComponents();
    }

    public int Count => (int)adapters.Count;

    /// <summary>
    /// Loads the adapters saved as diffusers' MultiAdapter.save_pretrained does: <paramref name="folder"/>, then
    /// <paramref name="folder"/>_1, _2, … while such a folder exists.
    /// </summary>
    public static MultiAdapter FromPretrained(string folder, Device? device = null, ScalarType dtype = ScalarType.Float32)
    {
        var models = new List<T2IAdapterModel>();
        try
        {
            for (var path = folder; Directory.Exists(path); path = $"{folder}_{models.Count}")
                models.Add(T2IAdapterModel.FromPretrained(path, device, dtype));
            return new MultiAdapter(models);
        }
        catch
        {
            foreach (var model in models)
                model.Dispose();
            throw;
        }
    }

    /// <summary>Features with equal weights 1/n.</summary>
    public override IReadOnlyList<Tensor> forward(IReadOnlyList<Tensor> images) =>
        forward(images, Enumerable.Repeat(1.0 / Count, Count).ToList());

    /// <param name="images">One (B, C, H, W) condition image per adapter.</param>
    /// <param name="weights">One weight per adapter (the pipelines pass adapter_conditioning_scale here).</param>
    public IReadOnlyList<Tensor> forward(IReadOnlyList<Tensor> images, IReadOnlyList<double> weights)
    {
        if (images.Count != Count || weights.Count != Count)
            throw new ArgumentException($"A MultiAdapter of {Count} adapters needs {Count} images and weights; got {images.Count} and {weights.Count}.");
        using var scope = torch.NewDisposeScope();
        var features = adapters.Zip(images, (adapter, image) => adapter.call(image)).ToList();
        return WeightedSum(features, weights).Select(f => f.MoveToOuterDisposeScope()).ToList();
    }

    /// <summary>
    /// Σ_k w_k·features_k, scale by scale, accumulated in adapter order as diffusers does (w_0·f_0, then += w_k·f_k). A light
    /// adapter's extra coarsest feature (which the UNet leaves unused) is kept as the only term of its scale.
    /// </summary>
    public static IReadOnlyList<Tensor> WeightedSum(IReadOnlyList<IReadOnlyList<Tensor>> features, IReadOnlyList<double> weights)
    {
        if (features.Count == 0 || features.Count != weights.Count)
            throw new ArgumentException($"Weighting needs one weight per adapter; got {features.Count} feature lists and {weights.Count} weights.");
        IReadOnlyList<Tensor> sum = features[0].Select(f => f * weights[0]).ToList();
        for (var k = 1; k < features.Count; k++)
            sum = Add(sum, features[k].Select(f => f * weights[k]).ToList());
        return sum;
    }

    /// <summary>Scale-by-scale sum of two feature lists; the scales only one list has are taken from it.</summary>
    public static IReadOnlyList<Tensor> Add(IReadOnlyList<Tensor> a, IReadOnlyList<Tensor> b) =>
        Enumerable.Range(0, Math.Max(a.Count, b.Count))
            .Select(i => i < a.Count && i < b.Count ? a[i] + b[i].to(a[i].dtype, a[i].device) : i < a.Count ? a[i] : b[i])
            .ToList();

    /// <summary>Throws <see cref="ArgumentException"/> unless every adapter downscales as the first (their features must add up).</summary>
    public static void CheckSameDownscaling(IReadOnlyList<T2IAdapterConfig> configs)
    {
        var first = configs[0];
        for (var k = 1; k < configs.Count; k++)
        {
            var other = configs[k];
            if (other.DownscaleFactor != first.DownscaleFactor || other.TotalDownscaleFactor != first.TotalDownscaleFactor)
                throw new ArgumentException(
                    $"Adapters must downscale alike to be combined: adapter 0 has downscale_factor {first.DownscaleFactor} (total {first.TotalDownscaleFactor}), " +
                    $"adapter {k} has {other.DownscaleFactor} (total {other.TotalDownscaleFactor}).");
        }
    }
}
