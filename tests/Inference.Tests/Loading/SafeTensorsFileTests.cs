using Easel.Inference.Loading;
using TorchSharp;

namespace Easel.Inference.Tests.Loading;

public sealed class SafeTensorsFileTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("easel-safetensors-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void Symbolic_link_to_a_checkpoint_opens_as_its_target()
    {
        // A Hugging Face cache snapshot is a folder of links into blobs/: the link's own length must not be used.
        var target = Path.Combine(_folder, "blob");
        using (var weight = torch.arange(0, 12, dtype: torch.float32).view(3, 4))
            Easel.Inference.Loading.SafeTensorsWriter.Write(target, [new("linear.weight", weight)]);
        var link = Path.Combine(_folder, "model.safetensors");
        File.CreateSymbolicLink(link, target);

        using var file = SafeTensorsFile.Open(link);
        using var loaded = file.Load("linear.weight");
        Assert.Equal([3L, 4L], loaded.shape);
        Assert.Equal(11f, loaded[2, 3].item<float>());
    }

    [Fact]
    public void File_shorter_than_a_header_is_refused_with_its_length()
    {
        var path = Path.Combine(_folder, "short.safetensors");
        File.WriteAllBytes(path, [1, 2, 3]);
        var error = Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Open(path));
        Assert.Contains("3 bytes", error.Message);
    }
}
