namespace Easel.Inference.Loading.SingleFile;

/// <summary>
/// What a single-file checkpoint is, told from its safetensors header alone: whether it is a loadable Stable
/// Diffusion file in the original layout, its family, whether it inpaints. Reads only the header (no tensor data, no
/// memory map, no TorchSharp), so a service can describe the models it offers without loading libtorch.
/// <see cref="SingleFileCheckpoint.Open"/> runs the same checks before it maps the file.
/// </summary>
public sealed class SingleFileHeader
{
    private static readonly string[] PickleExtensions = [".ckpt", ".pt", ".pth", ".bin", ".pkl"];

    // Buffers of the LDM training wrapper (DDPM schedule, loss weights) and EMA copies: present in real files, unused here.
    private static readonly HashSet<string> IgnoredKeys = new(StringComparer.Ordinal)
    {
        "alphas_cumprod", "alphas_cumprod_prev", "betas", "sqrt_alphas_cumprod", "sqrt_one_minus_alphas_cumprod",
        "log_one_minus_alphas_cumprod", "sqrt_recip_alphas_cumprod", "sqrt_recipm1_alphas_cumprod", "posterior_variance",
        "posterior_log_variance_clipped", "posterior_mean_coef1", "posterior_mean_coef2", "logvar", "lvlb_weights",
    };

    private SingleFileHeader(string path, IReadOnlyDictionary<string, long[]> shapes, IReadOnlyDictionary<string, string> metadata)
    {
        Path = path;
        Shapes = shapes;
        Metadata = metadata;
        Family = FamilyDetector.Detect(shapes);
        var unclaimed = shapes.Keys.Where(k => !IsIgnored(k) && ComponentOf(k) is null).Order(StringComparer.Ordinal).ToList();
        if (unclaimed.Count > 0)
            throw new CheckpointMismatchException($"{System.IO.Path.GetFileName(path)} ({Family} single file)", [], unclaimed, []);
    }

    /// <summary>The path the header was read from.</summary>
    public string Path { get; }

    /// <summary>The detected family.</summary>
    public ModelFamily Family { get; }

    /// <summary>Whether the UNet takes the inpainting inputs (9 channels: latents, mask, masked-image latents).</summary>
    public bool IsInpainting => Family.IsInpainting();

    /// <summary>Whether the file loads without a config folder (<see cref="ModelFamilyExtensions.HasBuiltInConfigs"/>).</summary>
    public bool HasBuiltInConfigs => Family.HasBuiltInConfigs();

    /// <summary>Every key of the file with its shape.</summary>
    public IReadOnlyDictionary<string, long[]> Shapes { get; }

    /// <summary>The file's <c>__metadata__</c>.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>
    /// Reads the header of a .safetensors single-file checkpoint, detects its family and checks that every key
    /// belongs to a component or is a known unused key.
    /// </summary>
    /// <exception cref="FileNotFoundException">There is no file at <paramref name="path"/>.</exception>
    /// <exception cref="NotSupportedException">The file is a pickle (.ckpt/.pt/.pth/.bin, or pickle/zip content).</exception>
    /// <exception cref="InvalidDataException">The file is not a Stable Diffusion checkpoint in the original layout.</exception>
    /// <exception cref="CheckpointMismatchException">The file holds keys that belong to no component.</exception>
    public static SingleFileHeader Read(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"Checkpoint '{path}' does not exist.", path);
        RefusePickleExtension(path);
        SafeTensorsHeader header;
        try
        {
            header = SafeTensorsHeader.Read(path);
        }
        catch (Exception e) when (e is InvalidDataException or System.Text.Json.JsonException or IOException && LooksLikePickle(path))
        {
            throw new NotSupportedException(
                $"'{System.IO.Path.GetFileName(path)}' holds pickle data (a torch.save file named {System.IO.Path.GetExtension(path)}): unpickling can execute arbitrary code, so it is refused. " +
                "Convert it to .safetensors with a trusted tool first.", e);
        }
        var shapes = header.Entries.ToDictionary(e => e.Key, e => e.Value.Shape, StringComparer.Ordinal);
        return new SingleFileHeader(path, shapes, header.Metadata);
    }

    /// <summary>Keys real single files carry that no component uses.</summary>
    internal static bool IsIgnored(string key) =>
        IgnoredKeys.Contains(key)
        || key.StartsWith("model_ema.", StringComparison.Ordinal)
        || key.EndsWith(".position_ids", StringComparison.Ordinal)
        || key.EndsWith(".logit_scale", StringComparison.Ordinal);

    private string? ComponentOf(string key)
    {
        if (key.StartsWith(FamilyDetector.UNetPrefix, StringComparison.Ordinal))
            return "unet";
        if (key.StartsWith(FamilyDetector.VaePrefix, StringComparison.Ordinal))
            return "vae";
        var prefixes = Family switch
        {
            ModelFamily.StableDiffusion1 or ModelFamily.StableDiffusion1Inpainting => [FamilyDetector.Sd1TextPrefix],
            ModelFamily.StableDiffusion2 or ModelFamily.StableDiffusion2Inpainting => [FamilyDetector.Sd2TextPrefix],
            ModelFamily.StableDiffusionXL or ModelFamily.StableDiffusionXLInpainting => [FamilyDetector.XlTextPrefix, FamilyDetector.XlText2Prefix],
            ModelFamily.StableDiffusionXLRefiner => (string[])[FamilyDetector.RefinerText2Prefix],
            _ => [],
        };
        return prefixes.FirstOrDefault(p => key.StartsWith(p, StringComparison.Ordinal));
    }

    private static void RefusePickleExtension(string path)
    {
        var extension = System.IO.Path.GetExtension(path);
        if (PickleExtensions.Contains(extension, StringComparer.OrdinalIgnoreCase))
            throw new NotSupportedException(
                $"'{System.IO.Path.GetFileName(path)}' is a pickle-based checkpoint ({extension}): unpickling can execute arbitrary code, so it is refused. " +
                "Convert it to .safetensors with a trusted tool first.");
    }

    // torch.save writes either a raw pickle (protocol 2–5: 0x80 0x02..0x05) or a zip archive holding one.
    private static bool LooksLikePickle(string path)
    {
        Span<byte> head = stackalloc byte[4];
        using var stream = File.OpenRead(path);
        var read = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        var isPickle = read >= 2 && head[0] == 0x80 && head[1] is >= 2 and <= 5;
        var isZip = read >= 4 && head[0] == (byte)'P' && head[1] == (byte)'K' && head[2] == 3 && head[3] == 4;
        return isPickle || isZip;
    }
}
