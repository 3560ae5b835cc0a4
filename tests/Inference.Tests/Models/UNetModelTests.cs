using System.Text;
using System.Text.Json;
using Easel.Inference.Loading;
using Easel.Inference.Models;
using Easel.Inference.Models.UNet;
using Easel.Inference.Models.Vae;
using Easel.Inference.Tests.Parity;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Tests.Models;

/// <summary>Fast structural tests of the UNet and VAE (no goldens).</summary>
public sealed class UNetModelTests
{
    private static string Sd15Unet => ParityFixtures.PathOf("models/sd15/unet");

    [Fact]
    public void FromPretrained_Throws_NamingTheKey_WhenACheckpointKeyIsMissing()
    {
        const string dropped = "mid_block.attentions.0.transformer_blocks.0.attn2.to_k.weight";
        var folder = Directory.CreateTempSubdirectory("easel-unet-").FullName;
        try
        {
            File.Copy(Path.Combine(Sd15Unet, "config.json"), Path.Combine(folder, "config.json"));
            using (var source = SafeTensorsFile.Open(Path.Combine(Sd15Unet, "diffusion_pytorch_model.safetensors")))
                WriteSafeTensors(Path.Combine(folder, "diffusion_pytorch_model.safetensors"), source, source.Keys.Where(k => k != dropped));

            var error = Assert.Throws<CheckpointMismatchException>(() => UNet2DConditionModel.FromPretrained(folder));
            Assert.Equal([dropped], error.Missing);
            Assert.Contains(dropped, error.Message);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void Constructor_Throws_NotSupported_ForAnUnknownAttentionType()
    {
        var config = UNet2DConditionConfig.Load(Sd15Unet) with { AttentionType = "sparse" };
        var error = Assert.Throws<NotSupportedException>(() => new UNet2DConditionModel(config));
        Assert.Contains("attention_type 'sparse'", error.Message);
    }

    [Fact]
    public void Forward_HandlesLatentSizesNotDivisibleByTheUpsamplingFactor()
    {
        using var unet = UNet2DConditionModel.FromPretrained(Sd15Unet);
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var config = unet.Config;
        var sample = torch.randn(1, config.InChannels, 17, 15);
        var text = torch.randn(1, 7, config.CrossAttentionDim.For(0, config.BlockOutChannels.Count));
        var output = unet.forward(sample, torch.tensor(10L), text);
        Assert.Equal([1L, config.OutChannels, 17, 15], output.shape);
    }

    [Fact]
    public void Forward_AcceptsControlNetAndAdapterResiduals_WithTheDiffusersShapes()
    {
        using var unet = UNet2DConditionModel.FromPretrained(Sd15Unet);
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var c = unet.Config;
        var boc = c.BlockOutChannels;
        const long size = 16;
        var sample = torch.randn(1, c.InChannels, size, size);
        var text = torch.randn(1, 77, c.CrossAttentionDim.For(0, boc.Count));
        var t = torch.tensor(500L);
        var plain = unet.forward(sample, t, text);

        // One residual per skip connection: conv_in, then each block's resnets and downsampler.
        var down = new List<Tensor> { torch.zeros(1, boc[0], size, size) };
        for (var i = 0; i < boc.Count; i++)
        {
            var s = size >> i;
            for (var l = 0; l < c.LayersPerBlock.For(i, boc.Count); l++)
                down.Add(torch.zeros(1, boc[i], s, s));
            if (i < boc.Count - 1)
                down.Add(torch.zeros(1, boc[i], s / 2, s / 2));
        }
        var midSize = size >> (boc.Count - 1);
        var zeroControl = new ControlResiduals(down, torch.zeros(1, boc[^1], midSize, midSize));
        var adapter = boc.Select((ch, i) => torch.zeros(1, ch, size >> i, size >> i)).ToList();

        Assert.Equal(0f, (plain - unet.forward(sample, t, text, new UNetConditioning(Control: zeroControl))).abs().max().item<float>());
        Assert.Equal(0f, (plain - unet.forward(sample, t, text, new UNetConditioning(DownIntrablockResiduals: adapter))).abs().max().item<float>());
        var pushed = zeroControl with { MidBlockResidual = torch.ones(1, boc[^1], midSize, midSize) };
        Assert.False(plain.allclose(unet.forward(sample, t, text, new UNetConditioning(Control: pushed))));
    }

    [Fact]
    public void AttentionModules_AreNamedByTheirCheckpointPath_AndProcessorsCanBeSwapped()
    {
        using var unet = UNet2DConditionModel.FromPretrained(Sd15Unet);
        var names = unet.AttentionModules().Select(a => a.Name).ToList();
        Assert.Contains("down_blocks.0.attentions.0.transformer_blocks.0.attn2", names);
        Assert.Contains("mid_block.attentions.0.transformer_blocks.0.attn1", names);

        var recorder = new RecordingProcessor();
        unet.SetAttentionProcessor(a => a.IsCrossAttention ? recorder : AttnProcessor.Instance);
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        unet.forward(torch.randn(1, 4, 16, 16), torch.tensor(5L), torch.randn(1, 77, 32));
        Assert.Equal(names.Count(n => n.EndsWith("attn2", StringComparison.Ordinal)), recorder.Calls.Count);
        Assert.All(recorder.Calls, c => Assert.Equal(77, c.Keys));
    }

    private sealed class RecordingProcessor : AttnProcessor
    {
        public List<(string Name, long Keys)> Calls { get; } = [];

        protected override Tensor OnAttentionProbabilities(Attention attention, Tensor probabilities, AttentionContext? context)
        {
            Calls.Add((attention.Name, probabilities.shape[^1]));
            return probabilities;
        }
    }

    /// <summary>Writes the named F32/I64 tensors of <paramref name="source"/> to a new safetensors file.</summary>
    private static void WriteSafeTensors(string path, SafeTensorsFile source, IEnumerable<string> keys)
    {
        var header = new Dictionary<string, object>();
        var blobs = new List<byte[]>();
        long offset = 0;
        foreach (var key in keys)
        {
            using var tensor = source.Load(key);
            var bytes = tensor.bytes.ToArray();
            header[key] = new { dtype = tensor.dtype == ScalarType.Int64 ? "I64" : "F32", shape = tensor.shape, data_offsets = new[] { offset, offset + bytes.Length } };
            blobs.Add(bytes);
            offset += bytes.Length;
        }
        var json = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(header));
        using var file = File.Create(path);
        file.Write(BitConverter.GetBytes((long)json.Length));
        file.Write(json);
        foreach (var blob in blobs)
            file.Write(blob);
    }
}

/// <summary>
/// Tests that switch TorchSharp's process-wide default device; the collection runs alone so that no
/// other test creates tensors on the meta device meanwhile.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class DefaultDeviceCollection
{
    public const string Name = "Default device";
}

[Collection(DefaultDeviceCollection.Name)]
public sealed class MetaDeviceShapeTests
{
    /// <summary>The full-size SD 1.5 UNet on the meta device: no memory, only shapes.</summary>
    [SkippableFact]
    public void FullSizeSd15Unet_HasTheReferenceParameterCount()
    {
        var config = ConfigJson.Parse<UNet2DConditionConfig>("""
            {"block_out_channels": [320, 640, 1280, 1280], "cross_attention_dim": 768, "attention_head_dim": 8,
             "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
             "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
             "layers_per_block": 2, "norm_num_groups": 32, "in_channels": 4, "out_channels": 4, "sample_size": 64}
            """);
        long count;
        try
        {
            torch.set_default_device(torch.device(DeviceType.META));
        }
        catch (Exception e)
        {
            throw new SkipException($"TorchSharp cannot default to the meta device here: {e.Message}");
        }
        try
        {
            // Only build the full model when modules really land on meta (else it would take 3.4 GB).
            using (var probe = Layers.GroupNorm(2, 4, 1e-5))
                Skip.IfNot(probe.weight!.device_type == DeviceType.META, "TorchSharp modules ignore the default meta device.");
            using var unet = new UNet2DConditionModel(config);
            Assert.All(unet.parameters(), p => Assert.Equal(DeviceType.META, p.device_type));
            count = unet.parameters().Sum(p => p.numel());
        }
        finally
        {
            torch.set_default_device(torch.CPU);
        }
        Assert.Equal(859_520_964L, count);
    }
}
