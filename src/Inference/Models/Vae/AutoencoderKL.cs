using Easel.Inference.Loading;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Easel.Inference.Models.Vae;

/// <summary>
/// diffusers' AutoencoderKL: <see cref="Encode"/> an image in [-1, 1] to a Gaussian posterior over latents,
/// <see cref="Decode"/> latents back to an image. Scaling by <see cref="AutoencoderKLConfig.ScalingFactor"/>
/// is left to the caller (pipelines), as in diffusers.
/// </summary>
public sealed class AutoencoderKL : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // field names are checkpoint keys
    private readonly Encoder encoder;
    private readonly Decoder decoder;
    private readonly LoraConv2d? quant_conv;
    private readonly LoraConv2d? post_quant_conv;
#pragma warning restore IDE1006

    public AutoencoderKL(AutoencoderKLConfig config) : base(nameof(AutoencoderKL))
    {
        config.Validate();
        Config = config;
        TileSampleMinSize = config.SampleSize;
        encoder = new Encoder(config);
        decoder = new Decoder(config);
        if (config.UseQuantConv)
            quant_conv = Layers.Conv2d(2 * config.LatentChannels, 2 * config.LatentChannels, 1);
        if (config.UsePostQuantConv)
            post_quant_conv = Layers.Conv2d(config.LatentChannels, config.LatentChannels, 1);
        RegisterComponents();
    }

    public AutoencoderKLConfig Config { get; }
    public Encoder Encoder => encoder;
    public Decoder Decoder => decoder;

    /// <summary>
    /// Loads a VAE from its component folder (vae/) or from a model root that contains vae/: reads config.json,
    /// builds on the CPU, loads strictly, moves to <paramref name="device"/>/<paramref name="dtype"/>, eval mode.
    /// </summary>
    public static AutoencoderKL FromPretrained(string componentFolder, Device? device = null, ScalarType dtype = ScalarType.Float32)
    {
        if (!File.Exists(Path.Combine(componentFolder, "config.json")) && Directory.Exists(Path.Combine(componentFolder, "vae")))
            componentFolder = Path.Combine(componentFolder, "vae");
        var config = AutoencoderKLConfig.Load(componentFolder);
        using var weights = SafeTensorsWeightSource.OpenFolder(componentFolder, "vae");
        return FromWeights(config, weights, device, dtype);
    }

    /// <summary>
    /// Builds the VAE from <paramref name="config"/> on the CPU, loads <paramref name="weights"/> strictly (a diffusers
    /// folder or a converted single-file checkpoint) and moves it to <paramref name="device"/>/<paramref name="dtype"/> in eval mode.
    /// </summary>
    public static AutoencoderKL FromWeights(AutoencoderKLConfig config, IWeightSource weights, Device? device = null, ScalarType dtype = ScalarType.Float32)
    {
        return WeightLoader.LoadNew(new AutoencoderKL(config), weights, device, dtype);
    }

    /// <summary>Every attention module (the mid-block's).</summary>
    public IEnumerable<Attention> AttentionModules() => modules().OfType<Attention>();

    /// <summary>Sets the processor of every attention module.</summary>
    public void SetAttentionProcessor(Func<Attention, IAttentionProcessor> choose)
    {
        foreach (var attention in AttentionModules())
            attention.Processor = choose(attention);
    }

    /// <summary>
    /// diffusers' enable_tiling: images larger than one tile are encoded/decoded in overlapping tiles whose seams are
    /// blended linearly (<see cref="TiledEncode"/>, <see cref="TiledDecode"/>), so memory stays bounded for large images.
    /// </summary>
    public bool UseTiling { get; set; }

    /// <summary>diffusers' enable_slicing: a batch is encoded/decoded one image at a time.</summary>
    public bool UseSlicing { get; set; }

    /// <summary>Tile side in pixels; diffusers' default is the config's sample_size.</summary>
    public int TileSampleMinSize { get; set; }

    /// <summary>Fraction of a tile that overlaps its neighbour (diffusers: 0.25).</summary>
    public double TileOverlapFactor { get; set; } = 0.25;

    /// <summary>Tile side in latents: tile_sample_min_size / 2^(down blocks − 1).</summary>
    public int TileLatentMinSize => (int)(TileSampleMinSize / (double)Config.ScaleFactor);

    /// <summary>Encodes (B, in_channels, H, W) in [-1, 1] to the latent posterior (the caller disposes it).</summary>
    public DiagonalGaussianDistribution Encode(Tensor image)
    {
        if (UseTiling && (image.shape[^1] > TileSampleMinSize || image.shape[^2] > TileSampleMinSize))
            return TiledEncode(image);
        using var scope = torch.NewDisposeScope();
        var h = UseSlicing && image.shape[0] > 1
            ? torch.cat(image.split(1).Select(slice => encoder.call(slice)).ToArray(), 0)
            : encoder.call(image); // (B, 2·latent, h, w)
        var moments = quant_conv is null ? h : quant_conv.call(h); // (B, 2·latent, h, w)
        return new DiagonalGaussianDistribution(moments); // takes the moments out of every dispose scope
    }

    /// <summary>Decodes unscaled latents (B, latent_channels, h, w) to (B, out_channels, H, W), not clamped.</summary>
    public Tensor Decode(Tensor latents)
    {
        if (UseSlicing && latents.shape[0] > 1)
        {
            using var scope = torch.NewDisposeScope();
            return torch.cat(latents.split(1).Select(DecodeOne).ToArray(), 0).MoveToOuterDisposeScope();
        }
        return DecodeOne(latents);
    }

    /// <summary>The decoder's input for unscaled latents: post_quant_conv(latents), or the latents when the VAE has none.</summary>
    public Tensor DecoderInput(Tensor latents) => post_quant_conv is null ? latents.alias() : post_quant_conv.call(latents);

    private Tensor DecodeOne(Tensor latents)
    {
        if (UseTiling && (latents.shape[^1] > TileLatentMinSize || latents.shape[^2] > TileLatentMinSize))
            return TiledDecode(latents);
        using var scope = torch.NewDisposeScope();
        var z = post_quant_conv is null ? latents : post_quant_conv.call(latents); // (B, latent, h, w)
        return decoder.call(z).MoveToOuterDisposeScope(); // (B, out_channels, H, W)
    }

    /// <summary>
    /// diffusers' tiled_decode: decodes tiles of TileLatentMinSize latents every (1 − overlap)·tile latents, blends
    /// each tile into its upper and left neighbours over overlap·tile pixels, and keeps the first tile − blend pixels of each.
    /// </summary>
    public Tensor TiledDecode(Tensor latents)
    {
        using var scope = torch.NewDisposeScope();
        var tile = TileLatentMinSize;
        var step = (int)(tile * (1 - TileOverlapFactor));
        var blend = (int)(TileSampleMinSize * TileOverlapFactor);
        var rowLimit = TileSampleMinSize - blend;
        var tiles = Tiles(latents, tile, step, t =>
        {
            using var inner = torch.NewDisposeScope();
            var z = post_quant_conv is null ? t : post_quant_conv.call(t);
            return decoder.call(z).MoveToOuterDisposeScope();
        });
        return Stitch(tiles, blend, rowLimit).MoveToOuterDisposeScope();
    }

    /// <summary>diffusers' tiled_encode: the encoder (and quant_conv) per overlapping image tile, moments blended as in <see cref="TiledDecode"/>.</summary>
    public DiagonalGaussianDistribution TiledEncode(Tensor image)
    {
        using var scope = torch.NewDisposeScope();
        var tile = TileSampleMinSize;
        var step = (int)(tile * (1 - TileOverlapFactor));
        var blend = (int)(TileLatentMinSize * TileOverlapFactor);
        var rowLimit = TileLatentMinSize - blend;
        var tiles = Tiles(image, tile, step, t =>
        {
            using var inner = torch.NewDisposeScope();
            var h = encoder.call(t);
            return (quant_conv is null ? h : quant_conv.call(h)).MoveToOuterDisposeScope();
        });
        return new DiagonalGaussianDistribution(Stitch(tiles, blend, rowLimit));
    }

    private static List<List<Tensor>> Tiles(Tensor x, int tile, int step, Func<Tensor, Tensor> run)
    {
        if (step <= 0)
            throw new InvalidOperationException($"VAE tiling: a tile of {tile} with overlap factor gives a step of {step}; use a larger tile or a smaller overlap.");
        var (height, width) = (x.shape[2], x.shape[3]);
        var rows = new List<List<Tensor>>();
        for (long i = 0; i < height; i += step)
        {
            var row = new List<Tensor>();
            for (long j = 0; j < width; j += step)
                row.Add(run(x[.., .., (int)i..(int)Math.Min(i + tile, height), (int)j..(int)Math.Min(j + tile, width)]));
            rows.Add(row);
        }
        return rows;
    }

    /// <summary>Blends every tile into its upper and left neighbour, crops each to rowLimit and concatenates.</summary>
    private static Tensor Stitch(List<List<Tensor>> rows, int blend, int rowLimit)
    {
        var resultRows = new List<Tensor>();
        for (var i = 0; i < rows.Count; i++)
        {
            var resultRow = new List<Tensor>();
            for (var j = 0; j < rows[i].Count; j++)
            {
                var tile = rows[i][j];
                if (i > 0)
                    tile = Blend(rows[i - 1][j], tile, blend, 2);
                if (j > 0)
                    tile = Blend(rows[i][j - 1], tile, blend, 3);
                rows[i][j] = tile; // later neighbours blend against the blended tile, as diffusers' in-place version does
                resultRow.Add(tile[.., .., ..(int)Math.Min(rowLimit, tile.shape[2]), ..(int)Math.Min(rowLimit, tile.shape[3])]);
            }
            resultRows.Add(torch.cat(resultRow.ToArray(), 3));
        }
        return torch.cat(resultRows.ToArray(), 2);
    }

    /// <summary>b's first extent rows (dim 2) or columns (dim 3) become a linear ramp from a's last ones: a·(1 − y/e) + b·(y/e).</summary>
    private static Tensor Blend(Tensor a, Tensor b, int extent, int dim)
    {
        extent = (int)Math.Min(Math.Min(a.shape[dim], b.shape[dim]), extent);
        if (extent <= 0)
            return b;
        var shape = dim == 2 ? new long[] { 1, 1, extent, 1 } : new long[] { 1, 1, 1, extent };
        var ramp = (torch.arange(extent, dtype: float64, device: b.device) / extent).to(b.dtype).view(shape); // y / e
        var head = a.narrow(dim, a.shape[dim] - extent, extent) * (1 - ramp) + b.narrow(dim, 0, extent) * ramp;
        return torch.cat([head, b.narrow(dim, extent, b.shape[dim] - extent)], dim);
    }

    /// <summary>Reconstruction through the posterior mode, as diffusers' forward with sample_posterior=False.</summary>
    public override Tensor forward(Tensor image)
    {
        using var posterior = Encode(image);
        return Decode(posterior.Mean);
    }
}
