using Easel.Inference.Customization.Lora;
using Easel.Inference.Loading;
using Easel.Inference.Models;
using Easel.Inference.Pipelines;
using Easel.Inference.Tests.Parity;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Tests.Customization.Lora;

/// <summary>Layout detection, α, key mapping onto the fixture models, errors, and conversion between the three layouts.</summary>
public sealed class LoraFileTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"easel-lora-{Guid.NewGuid():N}");

    public LoraFileTests() => Directory.CreateDirectory(_folder);

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static string Fixture(string file) => ParityFixtures.PathOf(Path.Combine("models/lora_sd15", file));

    private string WriteFile(string name, Dictionary<string, Tensor> tensors, Dictionary<string, string>? metadata = null)
    {
        var path = Path.Combine(_folder, name);
        SafeTensorsWriter.Write(path, tensors, metadata: metadata);
        return path;
    }

    [Theory]
    [InlineData("lora_kohya.safetensors", LoraFormat.Kohya, 0.5)]
    [InlineData("pytorch_lora_weights.safetensors", LoraFormat.Diffusers, 1.0)]
    [InlineData("lora_peft_format.safetensors", LoraFormat.Peft, 1.0)]
    public void Fixture_files_are_detected_with_their_scale(string file, LoraFormat format, double scale)
    {
        using var adapter = LoraFile.Load(Fixture(file));
        Assert.Equal(format, adapter.Format);
        Assert.Equal(68, adapter.Entries.Count);
        Assert.All(adapter.Entries, e => Assert.Equal(scale, e.Weights.Scale, 6));
        Assert.Contains(adapter.Entries, e => e.Component == LoraAdapter.UNet && e.Module == "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_out.0");
        Assert.Contains(adapter.Entries, e => e.Component == LoraAdapter.TextEncoder && e.Module == "text_model.encoder.layers.4.self_attn.out_proj");
    }

    [Theory]
    [InlineData(LoraFormat.Kohya)]
    [InlineData(LoraFormat.Diffusers)]
    [InlineData(LoraFormat.Peft)]
    public void Written_files_read_back_with_the_same_updates(LoraFormat format)
    {
        using var source = LoraFile.Load(Fixture("lora_kohya.safetensors"));
        var path = Path.Combine(_folder, $"converted-{format}.safetensors");
        using (var stream = File.Create(path))
            LoraFile.Write(source, format, stream);
        using var read = LoraFile.Load(path);
        Assert.Equal(format, read.Format);
        var byModule = read.Entries.ToDictionary(e => (e.Component, e.Module));
        Assert.Equal(source.Entries.Count, byModule.Count);
        foreach (var entry in source.Entries)
        {
            var back = byModule[(entry.Component, entry.Module)];
            Assert.True(back.Weights.Down.equal(entry.Weights.Down).all().item<bool>(), $"{entry.SourceKey}: down differs");
            using var scope = torch.NewDisposeScope();
            var delta = entry.Weights.Up.matmul(entry.Weights.Down) * entry.Weights.Scale;
            var backDelta = back.Weights.Up.matmul(back.Weights.Down) * back.Weights.Scale;
            Assert.True(backDelta.allclose(delta, rtol: 1e-6, atol: 1e-7), $"{entry.SourceKey}: the update differs after {format}");
        }
    }

    [Fact]
    public void Kohya_without_alpha_uses_the_rank_and_conv_updates_keep_their_kernels()
    {
        var path = WriteFile("conv.safetensors", new()
        {
            ["lora_unet_down_blocks_0_resnets_0_conv1.lora_down.weight"] = torch.randn(2, 3, 3, 3),
            ["lora_unet_down_blocks_0_resnets_0_conv1.lora_up.weight"] = torch.randn(5, 2, 1, 1),
        });
        using var adapter = LoraFile.Load(path);
        var entry = Assert.Single(adapter.Entries);
        Assert.Equal("down_blocks.0.resnets.0.conv1", entry.Module);
        Assert.Equal(2.0, entry.Weights.Alpha);
        Assert.Equal([2L, 3, 3, 3], entry.Weights.Down.shape);
    }

    [Fact]
    public void Attention_processor_names_map_to_the_projections()
    {
        var path = WriteFile("processor.safetensors", new()
        {
            ["down_blocks.0.attentions.0.transformer_blocks.0.attn1.processor.to_out_lora.down.weight"] = torch.randn(4, 32),
            ["down_blocks.0.attentions.0.transformer_blocks.0.attn1.processor.to_out_lora.up.weight"] = torch.randn(32, 4),
            ["text_encoder.text_model.encoder.layers.0.self_attn.to_q_lora.down.weight"] = torch.randn(4, 32),
            ["text_encoder.text_model.encoder.layers.0.self_attn.to_q_lora.up.weight"] = torch.randn(32, 4),
        });
        using var adapter = LoraFile.Load(path);
        Assert.Equal(LoraFormat.Diffusers, adapter.Format);
        Assert.Equal(
            [(LoraAdapter.TextEncoder, "text_model.encoder.layers.0.self_attn.q_proj"), (LoraAdapter.UNet, "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_out.0")],
            adapter.Entries.Select(e => (e.Component, e.Module)).Order().ToList());
    }

    [Fact]
    public void Peft_alpha_comes_from_adapter_config_json_beside_the_file()
    {
        var path = WriteFile("adapter_model.safetensors", new()
        {
            ["base_model.model.mid_block.attentions.0.transformer_blocks.0.attn1.to_q.lora_A.weight"] = torch.randn(4, 32),
            ["base_model.model.mid_block.attentions.0.transformer_blocks.0.attn1.to_q.lora_B.weight"] = torch.randn(32, 4),
            ["base_model.model.mid_block.attentions.0.transformer_blocks.0.attn1.to_k.lora_A.weight"] = torch.randn(4, 32),
            ["base_model.model.mid_block.attentions.0.transformer_blocks.0.attn1.to_k.lora_B.weight"] = torch.randn(32, 4),
        });
        File.WriteAllText(Path.Combine(_folder, LoraFile.AdapterConfigFileName), """{"r": 4, "lora_alpha": 8, "alpha_pattern": {"attn1.to_k": 2}}""");
        using var adapter = LoraFile.Load(path);
        Assert.Equal(LoraFormat.Peft, adapter.Format);
        Assert.All(adapter.Entries, e => Assert.Equal(LoraAdapter.UNet, e.Component));
        Assert.Equal(8.0, adapter.Entries.Single(e => e.Module.EndsWith("to_q")).Weights.Alpha);
        Assert.Equal(2.0, adapter.Entries.Single(e => e.Module.EndsWith("to_k")).Weights.Alpha);
    }

    [Fact]
    public void Diffusers_alpha_comes_from_the_adapter_metadata_per_component()
    {
        var path = WriteFile("meta.safetensors", new()
        {
            ["unet.mid_block.attentions.0.transformer_blocks.0.attn1.to_q.lora_A.weight"] = torch.randn(4, 32),
            ["unet.mid_block.attentions.0.transformer_blocks.0.attn1.to_q.lora_B.weight"] = torch.randn(32, 4),
            ["text_encoder.text_model.encoder.layers.0.self_attn.q_proj.lora_A.weight"] = torch.randn(4, 32),
            ["text_encoder.text_model.encoder.layers.0.self_attn.q_proj.lora_B.weight"] = torch.randn(32, 4),
        }, new() { ["lora_adapter_metadata"] = """{"unet.r": 4, "unet.lora_alpha": 2, "text_encoder.r": 4, "text_encoder.lora_alpha": 16, "text_encoder.use_rslora": true}""" });
        using var adapter = LoraFile.Load(path);
        Assert.Equal(2.0, adapter.Entries.Single(e => e.Component == LoraAdapter.UNet).Weights.Alpha);
        Assert.Equal(16.0 * 2, adapter.Entries.Single(e => e.Component == LoraAdapter.TextEncoder).Weights.Alpha); // α·√r for rsLoRA
    }

    [Fact]
    public void Sdxl_kohya_names_in_ldm_layout_map_onto_the_diffusers_modules()
    {
        using var pipeline = StableDiffusionPipeline.Load(ParityFixtures.PathOf("models/sdxl"), new PipelineOptions("cpu", "float32"));
        var layers = pipeline.UNet.named_modules().Where(m => m.module is LoraLayer).ToDictionary(m => m.name, m => (LoraLayer)m.module);
        var names = new Dictionary<string, string>
        {
            ["lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q"] = "down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q",
            ["lora_unet_middle_block_0_in_layers_2"] = "mid_block.resnets.0.conv1",
            ["lora_unet_input_blocks_3_0_op"] = "down_blocks.0.downsamplers.0.conv",
            ["lora_unet_output_blocks_2_2_conv"] = "up_blocks.0.upsamplers.0.conv",
            ["lora_unet_output_blocks_0_0_skip_connection"] = "up_blocks.0.resnets.0.conv_shortcut",
        };
        var tensors = new Dictionary<string, Tensor>();
        foreach (var (kohya, module) in names)
        {
            var weight = layers[module].Weight;
            var kernel = weight.dim() == 4 ? weight.shape[2] : 1;
            tensors[kohya + ".lora_down.weight"] = torch.randn(2, weight.shape[1], kernel, kernel);
            tensors[kohya + ".lora_up.weight"] = torch.randn(weight.shape[0], 2, 1, 1);
        }
        tensors["lora_te1_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight"] = torch.randn(2, 32);
        tensors["lora_te1_text_model_encoder_layers_0_self_attn_q_proj.lora_up.weight"] = torch.randn(32, 2);
        var te2 = ((SdxlPromptConditioner)pipeline.Conditioner).TextEncoder2.Config.HiddenSize;
        tensors["lora_te2_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight"] = torch.randn(2, te2);
        tensors["lora_te2_text_model_encoder_layers_0_self_attn_q_proj.lora_up.weight"] = torch.randn(te2, 2);
        using var adapter = LoraFile.Load(WriteFile("sdxl.safetensors", tensors));

        var mappings = adapter.Map(pipeline);
        var expected = names.Values.Select(m => (LoraAdapter.UNet, m))
            .Append((LoraAdapter.TextEncoder, "text_model.encoder.layers.0.self_attn.q_proj"))
            .Append((LoraAdapter.TextEncoder2, "text_model.encoder.layers.0.self_attn.q_proj")).Order().ToList();
        Assert.Equal(expected, mappings.Select(m => (m.Component, m.Module)).Order().ToList());
        Assert.Throws<ArgumentException>(() =>
        {
            using var stream = new MemoryStream();
            LoraFile.Write(adapter, LoraFormat.Diffusers, stream);
        });
    }

    [Fact]
    public void Keys_that_name_no_layer_or_misfit_are_named_in_the_error_and_nothing_is_activated()
    {
        using var pipeline = StableDiffusionPipeline.Load(ParityFixtures.PathOf("models/sd15"), new PipelineOptions("cpu", "float32"));
        var path = WriteFile("misfit.safetensors", new()
        {
            ["lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.lora_down.weight"] = torch.randn(4, 32),
            ["lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.lora_up.weight"] = torch.randn(32, 4),
            ["lora_unet_down_blocks_9_attentions_0_proj_in.lora_down.weight"] = torch.randn(4, 32),
            ["lora_unet_down_blocks_9_attentions_0_proj_in.lora_up.weight"] = torch.randn(32, 4),
            ["lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_k.lora_down.weight"] = torch.randn(4, 31),
            ["lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_k.lora_up.weight"] = torch.randn(32, 4),
        });
        using var adapter = LoraFile.Load(path);
        var error = Assert.Throws<ArgumentException>(() => LoraActivation.Apply(pipeline, [(adapter, 1.0)]));
        Assert.Contains("lora_unet_down_blocks_9_attentions_0_proj_in", error.Message);
        Assert.Contains("lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_k", error.Message);
        Assert.All(pipeline.UNet.named_modules().Select(m => m.module).OfType<LoraLayer>(), l => Assert.Empty(l.Adapters));
    }

    [Fact]
    public void A_second_activation_while_one_is_open_is_refused()
    {
        using var pipeline = StableDiffusionPipeline.Load(ParityFixtures.PathOf("models/sd15"), new PipelineOptions("cpu", "float32"));
        using var adapter = LoraFile.Load(Fixture("lora_kohya.safetensors"));
        using (LoraActivation.Apply(pipeline, [(adapter, 1.0)]))
            Assert.Throws<InvalidOperationException>(() => LoraActivation.Apply(pipeline, [(adapter, 1.0)]));
        using (var again = LoraActivation.Apply(pipeline, [(adapter, 0.5)], merge: true))
            Assert.Equal(68, again.Mappings.Count);
    }

    [Fact]
    public void Pickles_are_refused_and_other_safetensors_files_are_invalid()
    {
        var pickle = Path.Combine(_folder, "lora.safetensors");
        File.Copy(ParityFixtures.PathOf("models/textual_inversion_sd15/neg-style.pt"), pickle);
        Assert.Contains("pickle", Assert.Throws<NotSupportedException>(() => LoraFile.Load(pickle)).Message);

        var embedding = WriteFile("embedding.safetensors", new() { ["emb_params"] = torch.randn(2, 32) });
        Assert.Contains("emb_params", Assert.Throws<InvalidDataException>(() => LoraFile.Load(embedding)).Message);

        var halfOnly = WriteFile("half.safetensors", new() { ["lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight"] = torch.randn(2, 32) });
        Assert.Contains("lack", Assert.Throws<InvalidDataException>(() => LoraFile.Load(halfOnly)).Message);
    }
}
