using System.IO.Compression;
using System.Text;

namespace Easel.Core.FineTunes;

/// <summary>One training image of a dataset archive and the caption kept beside it (null when it has none).</summary>
/// <param name="Entry">The image's path inside the archive, as the refusals name it.</param>
public sealed record TrainingDatasetItem(string Entry, byte[] Bytes, string? Caption);

/// <summary>
/// Reads a fine-tune dataset sent as a zip archive, in the layout kohya's trainers use: images (PNG or JPEG) with an
/// optional caption file of the same name and the extension <c>.txt</c> or <c>.caption</c> beside each. Images are taken in
/// the ordinal order of their paths, so the same archive gives the same dataset (and dataset hash). Folders, macOS resource
/// forks and hidden files are skipped; anything else is refused by name, so that a caption that does not reach its image
/// is not lost silently. Sizes are checked on the bytes actually inflated, never on the archive's own claims.
/// </summary>
public static class TrainingDataset
{
    public const int MaxCaptionChars = 2000;

    private static readonly string[] ImageExtensions = [".png", ".jpg", ".jpeg"];
    private static readonly string[] CaptionExtensions = [".txt", ".caption"];

    /// <summary>The images and captions of the archive, or the reason it was refused (the status is 400 or 413).</summary>
    public static (IReadOnlyList<TrainingDatasetItem>? Items, int Status, string? Problem) Read(byte[] archive, int maxImages, long maxImageBytes)
    {
        try
        {
            return ReadArchive(archive, maxImages, maxImageBytes);
        }
        catch (InvalidDataException e)
        {
            return (null, 400, $"dataset is a damaged zip archive: {e.Message}");
        }
        catch (DecoderFallbackException)
        {
            return (null, 400, "dataset has a caption that is not UTF-8 text.");
        }
    }

    private static (IReadOnlyList<TrainingDatasetItem>? Items, int Status, string? Problem) ReadArchive(byte[] archive, int maxImages, long maxImageBytes)
    {
        ZipArchive zip;
        try
        {
            zip = new ZipArchive(new MemoryStream(archive, writable: false), ZipArchiveMode.Read);
        }
        catch (InvalidDataException)
        {
            return (null, 400, "dataset is not a zip archive.");
        }

        using (zip)
        {
            var images = new SortedDictionary<string, ZipArchiveEntry>(StringComparer.Ordinal);
            var captions = new Dictionary<string, ZipArchiveEntry>(StringComparer.Ordinal);
            foreach (var entry in zip.Entries)
            {
                var path = entry.FullName.Replace('\\', '/');
                if (path.EndsWith('/') || path.StartsWith("__MACOSX/", StringComparison.Ordinal) || Path.GetFileName(path).StartsWith('.'))
                    continue;
                var extension = Path.GetExtension(path).ToLowerInvariant();
                var stem = path[..^extension.Length];
                if (ImageExtensions.Contains(extension))
                {
                    if (!images.TryAdd(stem, entry))
                        return (null, 400, $"dataset has two images named {stem} ({images[stem].FullName} and {entry.FullName}); each caption must know its image.");
                }
                else if (CaptionExtensions.Contains(extension))
                {
                    if (!captions.TryAdd(stem, entry))
                        return (null, 400, $"dataset has two captions for {stem}.");
                }
                else
                    return (null, 400, $"dataset entry {entry.FullName} is neither an image (.png, .jpg, .jpeg) nor a caption (.txt, .caption).");
            }
            var orphan = captions.Keys.FirstOrDefault(stem => !images.ContainsKey(stem));
            if (orphan is not null)
                return (null, 400, $"dataset caption {captions[orphan].FullName} has no image beside it.");
            if (images.Count == 0)
                return (null, 400, "dataset holds no images (.png, .jpg, .jpeg).");
            if (images.Count > maxImages)
                return (null, 400, $"dataset holds {images.Count} images; at most {maxImages} per fine-tune (Easel:FineTunes:MaxImages).");

            var items = new List<TrainingDatasetItem>(images.Count);
            foreach (var (stem, entry) in images)
            {
                var bytes = Inflate(entry, maxImageBytes);
                if (bytes is null)
                    return (null, 413, $"dataset image {entry.FullName} inflates to more than {maxImageBytes} bytes (Easel:Generation:MaxInputImageBytes).");
                string? caption = null;
                if (captions.TryGetValue(stem, out var captionEntry))
                {
                    var text = Inflate(captionEntry, MaxCaptionChars * 4L);
                    caption = text is null ? null : new UTF8Encoding(false, true).GetString(text).Trim();
                    if (caption is null || caption.Length > MaxCaptionChars)
                        return (null, 400, $"dataset caption {captionEntry.FullName} is longer than {MaxCaptionChars} characters.");
                    if (caption.Length == 0)
                        caption = null;
                }
                items.Add(new TrainingDatasetItem(entry.FullName, bytes, caption));
            }
            return (items, 200, null);
        }
    }

    /// <summary>The entry's bytes, or null when it inflates to more than <paramref name="maxBytes"/>.</summary>
    private static byte[]? Inflate(ZipArchiveEntry entry, long maxBytes)
    {
        using var source = entry.Open();
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = source.Read(chunk)) > 0)
        {
            if (buffer.Length + read > maxBytes)
                return null;
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }
}
