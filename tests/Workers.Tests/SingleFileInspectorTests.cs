using Easel.Core.Models;
using Easel.Testing;
using Easel.Workers.Models;

namespace Easel.Workers.Tests;

/// <summary>The worker-side description of single-file checkpoints: from the safetensors header alone.</summary>
public sealed class SingleFileInspectorTests
{
    [Theory]
    [InlineData("sd15", ModelFamily.Sd15, false)]
    [InlineData("sd15_inpaint", ModelFamily.Sd15, true)]
    [InlineData("sd2", ModelFamily.Sd2, false)]
    [InlineData("sdxl", ModelFamily.Sdxl, false)]
    public void Inspect_tells_family_and_inpainting_of_the_fixture_files(string name, ModelFamily family, bool inpainting)
    {
        Assert.Equal((family, inpainting), new SingleFileInspector().Inspect(TestPaths.SingleFileCheckpoint(name)));
    }

    [Fact]
    public void Inspect_reports_keys_of_no_component_as_invalid_data()
    {
        var path = Path.Combine(TestPaths.NewTempFolder("easel-inspect"), "stray.safetensors");
        try
        {
            // A 1×4×1×1 conv_in (an SD 1.x UNet input) and a key no component claims; 16 bytes of data each.
            var header = """
                {"model.diffusion_model.input_blocks.0.0.weight": {"dtype": "F32", "shape": [1, 4, 1, 1], "data_offsets": [0, 16]},
                 "cond_stage_model.transformer.text_model.final_layer_norm.weight": {"dtype": "F32", "shape": [4], "data_offsets": [16, 32]},
                 "stray.weight": {"dtype": "F32", "shape": [4], "data_offsets": [32, 48]}}
                """u8.ToArray();
            using (var file = File.Create(path))
            {
                file.Write(BitConverter.GetBytes((long)header.Length));
                file.Write(header);
                file.Write(new byte[48]);
            }

            var error = Assert.Throws<InvalidDataException>(() => new SingleFileInspector().Inspect(path));
            Assert.Contains("stray.weight", error.Message);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);
        }
    }
}
