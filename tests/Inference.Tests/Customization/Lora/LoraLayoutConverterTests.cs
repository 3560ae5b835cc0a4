using System.Buffers.Binary;
using Easel.Inference.Customization.Lora;
using Easel.Inference.Loading;
using Easel.Inference.Tests.Parity;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Tests.Customization.Lora;

/// <summary>
/// The torch-free converter against the torch reader and writer: the converted file reads back (with <see cref="LoraFile.Load"/>)
/// in the target layout with the source's updates, and holds what <see cref="LoraFile.Write"/> writes.
/// </summary>
public sealed class LoraLayoutConverterTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"easel-lora-convert-{Guid.NewGuid():N}");

    public LoraLayoutConverterTests() => Directory.CreateDirectory(_folder);

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static string Fixture(string file) => ParityFixtures.PathOf(Path.Combine("models/lora_sd15", file));

    private string Convert(string path, LoraFormat format)
    {
        var output = Path.Combine(_folder, $"{Path.GetFileNameWithoutExtension(path)}-{format}-{Guid.NewGuid():N}.safetensors");
        using (var stream = File.Create(output))
            LoraLayoutConverter.Convert(path, format, stream);
        return output;
    }

    private string WriteFile(string name, Dictionary<string, Tensor> tensors, Dictionary<string, string>? metadata = null)
    {
        var path = Path.Combine(_folder, name);
        SafeTensorsWriter.Write(path, tensors, metadata: metadata);
        return path;
    }

    private static void AssertSameUpdates(LoraAdapter expected, LoraAdapter actual, double tolerance)
    {
        var byModule = actual.Entries.ToDictionary(e => (e.Component, e.Module));
        Assert.Equal(expected.Entries.Count, byModule.Count);
        foreach (var entry in expected.Entries)
        {
            var other = byModule[(entry.Component, entry.Module)];
            using var scope = torch.NewDisposeScope();
            var delta = entry.Weights.Up.matmul(entry.Weights.Down.flatten(1)) * entry.Weights.Scale;
            var otherDelta = other.Weights.Up.matmul(other.Weights.Down.flatten(1)) * other.Weights.Scale;
            var difference = (otherDelta - delta).abs().max().item<float>();
            Assert.True(difference <= tolerance, $"{entry.SourceKey}: the update differs by {difference}");
        }
    }

    [Theory]
    [InlineData("lora_kohya.safetensors", LoraFormat.Diffusers)]
    [InlineData("lora_kohya.safetensors", LoraFormat.Peft)]
    [InlineData("pytorch_lora_weights.safetensors", LoraFormat.Kohya)]
    [InlineData("pytorch_lora_weights.safetensors", LoraFormat.Peft)]
    [InlineData("lora_peft_format.safetensors", LoraFormat.Kohya)]
    [InlineData("lora_peft_format.safetensors", LoraFormat.Diffusers)]
    public void Fixtures_convert_to_the_other_layouts_with_the_same_updates_and_the_bytes_LoraFile_writes(string file, LoraFormat format)
    {
        var converted = Convert(Fixture(file), format);

        using var source = LoraFile.Load(Fixture(file));
        using var read = LoraFile.Load(converted);
        Assert.Equal(format, read.Format);
        var header = SafeTensorsHeader.Read(converted);
        Assert.All(header.Entries.Keys, key => Assert.Equal(format, LoraKeyNames.Parse(key)!.Format));
        Assert.Equal(format == LoraFormat.Kohya ? 3 * 68 : 2 * 68, header.Entries.Count);
        AssertSameUpdates(source, read, 1e-6);

        // The fixtures are F32, which LoraFile reads unchanged, so its writer's tensors are the reference byte for byte.
        var reference = Path.Combine(_folder, "reference.safetensors");
        using (var stream = File.Create(reference))
            LoraFile.Write(source, format, stream);
        var expected = SafeTensorsHeader.Read(reference);
        Assert.Equal(expected.Entries.Keys.Order(StringComparer.Ordinal), header.Entries.Keys.Order(StringComparer.Ordinal));
        var convertedBytes = File.ReadAllBytes(converted);
        var referenceBytes = File.ReadAllBytes(reference);
        foreach (var (key, entry) in expected.Entries)
        {
            var actual = header.Entries[key];
            Assert.Equal(entry.DType, actual.DType);
            Assert.Equal(entry.Shape, actual.Shape);
            Assert.True(referenceBytes.AsSpan((int)(expected.DataStart + entry.Begin), (int)entry.ByteLength)
                .SequenceEqual(convertedBytes.AsSpan((int)(header.DataStart + actual.Begin), (int)actual.ByteLength)), $"{key}: the bytes differ");
        }
    }

    [Fact]
    public void The_output_is_a_padded_safetensors_file_with_pt_metadata()
    {
        var converted = Convert(Fixture("pytorch_lora_weights.safetensors"), LoraFormat.Kohya);
        var bytes = File.ReadAllBytes(converted);
        var headerLength = BinaryPrimitives.ReadInt64LittleEndian(bytes);
        Assert.Equal(0, headerLength % 8);
        var header = SafeTensorsHeader.Read(converted);
        Assert.Equal(new Dictionary<string, string> { ["format"] = "pt" }, header.Metadata);
        Assert.Equal(bytes.Length - header.DataStart, header.Entries.Values.Sum(e => e.ByteLength));
        var alpha = header.Entries["lora_te_text_model_encoder_layers_0_self_attn_k_proj.alpha"];
        Assert.Equal(("F32", 0), (alpha.DType, alpha.Shape.Length));
        Assert.Equal(4f, BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan((int)(header.DataStart + alpha.Begin))));
    }

    [Theory]
    [InlineData("F16")]
    [InlineData("BF16")]
    public void Half_precision_up_weights_are_scaled_in_float_and_stored_in_their_dtype_as_torch_rounds(string dtype)
    {
        var type = dtype == "F16" ? ScalarType.Float16 : ScalarType.BFloat16;
        var up = torch.randn(32, 4).to(type);
        var path = WriteFile("half.safetensors", new()
        {
            ["lora_unet_mid_block_attentions_0_proj_in.lora_down.weight"] = torch.randn(4, 32).to(type),
            ["lora_unet_mid_block_attentions_0_proj_in.lora_up.weight"] = up,
            ["lora_unet_mid_block_attentions_0_proj_in.alpha"] = torch.tensor(3f),
        });

        var converted = Convert(path, LoraFormat.Peft);

        var header = SafeTensorsHeader.Read(converted);
        Assert.All(header.Entries.Values, e => Assert.Equal(dtype, e.DType));
        using var file = SafeTensorsFile.Open(converted);
        using var scaled = file.Load("unet.mid_block.attentions.0.proj_in.lora_B.weight");
        using var expected = up * 0.75;
        Assert.Equal(type, expected.dtype);
        Assert.True(scaled.equal(expected).all().item<bool>(), "the scaled up weights differ from torch's");
        using var source = LoraFile.Load(path);
        using var read = LoraFile.Load(converted);
        AssertSameUpdates(source, read, dtype == "F16" ? 1e-2 : 1e-1);
    }

    [Fact]
    public void Diffusers_alpha_from_the_metadata_is_folded_for_peft_and_kept_for_kohya()
    {
        var path = WriteFile("meta.safetensors", new()
        {
            ["unet.mid_block.attentions.0.transformer_blocks.0.attn1.to_q.lora.down.weight"] = torch.randn(4, 32),
            ["unet.mid_block.attentions.0.transformer_blocks.0.attn1.to_q.lora.up.weight"] = torch.randn(32, 4),
            ["text_encoder.text_model.encoder.layers.0.self_attn.q_proj.lora_linear_layer.down.weight"] = torch.randn(4, 32),
            ["text_encoder.text_model.encoder.layers.0.self_attn.q_proj.lora_linear_layer.up.weight"] = torch.randn(32, 4),
        }, new() { ["lora_adapter_metadata"] = """{"unet.r": 4, "unet.lora_alpha": 2, "text_encoder.r": 4, "text_encoder.lora_alpha": 3}""" });
        using var source = LoraFile.Load(path);

        foreach (var format in new[] { LoraFormat.Peft, LoraFormat.Kohya })
        {
            var converted = Convert(path, format);
            using var read = LoraFile.Load(converted);
            Assert.Equal(format, read.Format);
            AssertSameUpdates(source, read, 1e-6);
            var alphas = read.Entries.Select(e => e.Weights.Alpha).Order().ToList();
            Assert.Equal(format == LoraFormat.Kohya ? [2.0, 3.0] : [4.0, 4.0], alphas);
        }
    }

    [Fact]
    public void Ldm_unet_names_convert_to_kohya_only()
    {
        var path = WriteFile("sdxl.safetensors", new()
        {
            ["lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q.lora_down.weight"] = torch.randn(2, 32),
            ["lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q.lora_up.weight"] = torch.randn(32, 2),
        });

        Assert.Throws<ArgumentException>(() => LoraLayoutConverter.Convert(path, LoraFormat.Diffusers, new MemoryStream()));
        Assert.Throws<ArgumentException>(() => LoraLayoutConverter.Convert(path, LoraFormat.Peft, new MemoryStream()));
        using var read = LoraFile.Load(Convert(path, LoraFormat.Kohya));
        Assert.Equal("input_blocks.4.1.transformer_blocks.0.attn1.to_q", Assert.Single(read.Entries).Module);
    }
}
