using System.IO.Compression;
using System.Text;
using Easel.Core.FineTunes;

namespace Easel.Core.Tests;

public sealed class TrainingDatasetTests
{
    private static byte[] Zip(params (string Name, byte[] Bytes)[] entries)
    {
        using var buffer = new MemoryStream();
        using (var zip = new ZipArchive(buffer, ZipArchiveMode.Create, leaveOpen: true))
            foreach (var (name, bytes) in entries)
            {
                using var stream = zip.CreateEntry(name).Open();
                stream.Write(bytes);
            }
        return buffer.ToArray();
    }

    private static byte[] Text(string text) => Encoding.UTF8.GetBytes(text);

    private static readonly byte[] Image = [0x89, 0x50, 0x4E, 0x47];

    [Fact]
    public void Images_come_in_path_order_with_the_caption_file_beside_each()
    {
        var (items, status, problem) = TrainingDataset.Read(Zip(
            ("b.png", Image), ("b.txt", Text("a sks ring, on the left\n")),
            ("a.jpg", Image), ("a.caption", Text("a sks ring")),
            ("sub/c.png", Image)), maxImages: 10, maxImageBytes: 100);

        Assert.Null(problem);
        Assert.Equal(200, status);
        Assert.Equal(["a.jpg", "b.png", "sub/c.png"], items!.Select(i => i.Entry));
        Assert.Equal(["a sks ring", "a sks ring, on the left", null], items!.Select(i => i.Caption));
    }

    [Fact]
    public void Folders_resource_forks_and_hidden_files_are_skipped()
    {
        var (items, _, problem) = TrainingDataset.Read(Zip(
            ("images/", []), ("__MACOSX/images/._a.png", Image), ("images/.DS_Store", Image), ("images/a.png", Image)), 10, 100);

        Assert.Null(problem);
        Assert.Equal("images/a.png", Assert.Single(items!).Entry);
    }

    [Theory]
    [InlineData("notes.md", "neither an image")]
    [InlineData("x.txt", "has no image beside it")]
    public void An_entry_that_reaches_no_image_is_refused_by_name(string entry, string expected)
    {
        var (items, status, problem) = TrainingDataset.Read(Zip(("a.png", Image), (entry, Text("text"))), 10, 100);

        Assert.Null(items);
        Assert.Equal(400, status);
        Assert.Contains(entry, problem);
        Assert.Contains(expected, problem);
    }

    [Fact]
    public void An_image_that_inflates_past_the_limit_is_refused_with_413_whatever_the_archive_claims()
    {
        var (items, status, problem) = TrainingDataset.Read(Zip(("a.png", new byte[5000])), 10, maxImageBytes: 4096);

        Assert.Null(items);
        Assert.Equal(413, status);
        Assert.Contains("a.png", problem);
    }

    [Fact]
    public void More_images_than_the_limit_are_refused()
    {
        var (_, status, problem) = TrainingDataset.Read(Zip(("a.png", Image), ("b.png", Image), ("c.png", Image)), maxImages: 2, 100);

        Assert.Equal(400, status);
        Assert.Contains("3 images", problem);
    }

    [Fact]
    public void Bytes_that_are_not_a_zip_are_refused()
    {
        var (_, status, problem) = TrainingDataset.Read(Image, 10, 100);

        Assert.Equal(400, status);
        Assert.Contains("not a zip", problem);
    }

    [Fact]
    public void Two_images_of_one_name_are_refused_because_a_caption_could_not_tell_them_apart()
    {
        var (_, status, problem) = TrainingDataset.Read(Zip(("a.png", Image), ("a.jpg", Image)), 10, 100);

        Assert.Equal(400, status);
        Assert.Contains("two images", problem);
    }
}
