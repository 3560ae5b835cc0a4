namespace Easel.Inference.Loading;

/// <summary>
/// Recognises torch.save files (pickles), which the service refuses because unpickling can execute arbitrary code:
/// by extension, or by content when a pickle was renamed to .safetensors.
/// </summary>
internal static class PickleFiles
{
    private static readonly string[] Extensions = [".pt", ".pth", ".bin", ".ckpt", ".pkl"];

    public static bool IsPickle(string path) =>
        Extensions.Contains(Path.GetExtension(path), StringComparer.OrdinalIgnoreCase) || StartsLikePickle(path);

    // torch.save writes a zip archive ("PK\x03\x04") or, in the legacy format, a raw pickle (0x80, protocol 2–5, then an
    // opcode). A safetensors file starts with its header length as a little-endian u64 whose high bytes are zero, so a
    // header of 640 bytes (0x80 0x02 0x00 …) is not mistaken for a pickle.
    private static bool StartsLikePickle(string path)
    {
        Span<byte> head = stackalloc byte[4];
        using var stream = File.OpenRead(path);
        var read = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        var isPickle = read >= 3 && head[0] == 0x80 && head[1] is >= 2 and <= 5 && head[2] != 0;
        var isZip = read >= 4 && head[0] == (byte)'P' && head[1] == (byte)'K' && head[2] == 3 && head[3] == 4;
        return isPickle || isZip;
    }
}
