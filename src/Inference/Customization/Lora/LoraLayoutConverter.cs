using System.Buffers.Binary;
using System.Text.Json;
using Easel.Inference.Loading;

namespace Easel.Inference.Customization.Lora;

/// <summary>
/// Rewrites a LoRA safetensors file in another layout without TorchSharp, so that a process that must never load libtorch
/// (the API) can serve conversions. The result is what <see cref="LoraFile.Load"/> followed by <see cref="LoraFile.Write"/>
/// would give, except that tensors keep their stored dtype: keys are renamed, bytes copied, and α handled as Write does
/// (kohya keeps α; diffusers and PEFT get up pre-multiplied by α/r in the up tensor's own dtype).
/// </summary>
public static class LoraLayoutConverter
{
    /// <summary>Writes the LoRA file at <paramref name="path"/> in <paramref name="format"/> to <paramref name="output"/> (left open).</summary>
    /// <exception cref="InvalidDataException">The file is not a LoRA safetensors file in one layout.</exception>
    /// <exception cref="ArgumentException">The updates cannot be written in <paramref name="format"/>: UNet modules with LDM
    /// names (kohya SDXL) for diffusers or PEFT, or an up tensor of a non-float dtype that needs α folded in.</exception>
    public static void Convert(string path, LoraFormat format, Stream output)
    {
        var fileName = Path.GetFileName(path);
        using var source = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        var header = SafeTensorsHeader.Read(source, fileName);

        var parsed = new List<(SafeTensorsHeaderEntry Entry, ParsedLoraKey Parsed)>();
        var unknown = new List<string>();
        foreach (var (key, entry) in header.Entries)
        {
            if (LoraKeyNames.Parse(key) is { } p)
                parsed.Add((entry, p));
            else
                unknown.Add(key);
        }
        var formats = parsed.Select(p => p.Parsed.Format).OfType<LoraFormat>().Distinct().ToList();
        if (unknown.Count > 0 || formats.Count != 1)
            throw new InvalidDataException($"'{fileName}' is not a LoRA file in one layout ({unknown.Count} unknown keys, layouts: {string.Join(", ", formats)}).");
        var sourceFormat = formats[0];
        // Load reads α from the adapter config only for the layouts without α tensors; the same config sources are read here.
        var configPath = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, LoraFile.AdapterConfigFileName);
        var alphaConfig = sourceFormat == LoraFormat.Kohya ? null
            : LoraAlphaConfig.Read(header.Metadata, File.Exists(configPath) ? File.ReadAllText(configPath) : null, fileName);

        var groups = parsed.GroupBy(p => (p.Parsed.Component, p.Parsed.Module)).ToList();
        if (format != LoraFormat.Kohya && groups.FirstOrDefault(g => g.Key.Component == LoraAdapter.UNet && LoraKeyNames.IsLdmUNetModule(g.Key.Module)) is { } ldm)
            throw new ArgumentException($"'{fileName}' names UNet modules the LDM way ({ldm.First().Parsed.Stem}); it can be written as kohya only.", nameof(format));
        var twoTextEncoders = groups.Any(g => g.Key.Component == LoraAdapter.TextEncoder2);

        var tensors = new List<(string Key, string DType, long[] Shape, byte[] Data)>();
        foreach (var group in groups)
        {
            var (component, module) = group.Key;
            SafeTensorsHeaderEntry? Part(LoraKeyPart part) => group.FirstOrDefault(p => p.Parsed.Part == part).Entry;
            var down = Part(LoraKeyPart.Down) ?? throw Incomplete(fileName, group.First().Parsed.Stem);
            var up = Part(LoraKeyPart.Up) ?? throw Incomplete(fileName, group.First().Parsed.Stem);
            var rank = down.Shape[0];
            var alpha = Part(LoraKeyPart.Alpha) is { } alphaEntry ? ReadScalar(source, header, alphaEntry, fileName)
                : alphaConfig?.AlphaFor(component, module, rank) ?? rank;
            string Key(LoraKeyPart part) => LoraKeyNames.Compose(format, component, module, part, twoTextEncoders);

            tensors.Add((Key(LoraKeyPart.Down), down.DType, down.Shape, ReadBytes(source, header, down)));
            var upBytes = ReadBytes(source, header, up);
            if (format == LoraFormat.Kohya)
            {
                tensors.Add((Key(LoraKeyPart.Up), up.DType, up.Shape, upBytes));
                var alphaBytes = new byte[4];
                BinaryPrimitives.WriteSingleLittleEndian(alphaBytes, (float)alpha);
                tensors.Add((Key(LoraKeyPart.Alpha), "F32", [], alphaBytes));
            }
            else
                tensors.Add((Key(LoraKeyPart.Up), up.DType, up.Shape, Scale(upBytes, up, alpha / rank, fileName)));
        }
        Write(output, tensors);
    }

    private static InvalidDataException Incomplete(string fileName, string stem) =>
        new($"'{fileName}': the update {stem} lacks its down or up tensor.");

    private static byte[] ReadBytes(FileStream source, SafeTensorsHeader header, SafeTensorsHeaderEntry entry)
    {
        var bytes = new byte[entry.ByteLength];
        source.Position = header.DataStart + entry.Begin;
        source.ReadExactly(bytes);
        return bytes;
    }

    private static double ReadScalar(FileStream source, SafeTensorsHeader header, SafeTensorsHeaderEntry entry, string fileName)
    {
        var bytes = ReadBytes(source, header, entry);
        return entry.DType switch
        {
            "F64" when bytes.Length == 8 => BinaryPrimitives.ReadDoubleLittleEndian(bytes),
            "F32" when bytes.Length == 4 => BinaryPrimitives.ReadSingleLittleEndian(bytes),
            "F16" when bytes.Length == 2 => (double)BinaryPrimitives.ReadHalfLittleEndian(bytes),
            "BF16" when bytes.Length == 2 => FromBFloat16(BinaryPrimitives.ReadUInt16LittleEndian(bytes)),
            _ => throw new InvalidDataException($"'{fileName}': {entry.Name} is not a single float ({entry.DType} [{string.Join(", ", entry.Shape)}])."),
        };
    }

    /// <summary>The up tensor times <paramref name="scale"/>, computed in float (as torch does for F32/F16/BF16 times a scalar) and stored in its dtype.</summary>
    private static byte[] Scale(byte[] bytes, SafeTensorsHeaderEntry entry, double scale, string fileName)
    {
        var factor = (float)scale;
        if (factor == 1f)
            return bytes;
        var result = new byte[bytes.Length];
        switch (entry.DType)
        {
            case "F64":
                for (var i = 0; i < bytes.Length; i += 8)
                    BinaryPrimitives.WriteDoubleLittleEndian(result.AsSpan(i), BinaryPrimitives.ReadDoubleLittleEndian(bytes.AsSpan(i)) * scale);
                break;
            case "F32":
                for (var i = 0; i < bytes.Length; i += 4)
                    BinaryPrimitives.WriteSingleLittleEndian(result.AsSpan(i), BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(i)) * factor);
                break;
            case "F16":
                for (var i = 0; i < bytes.Length; i += 2)
                    BinaryPrimitives.WriteHalfLittleEndian(result.AsSpan(i), (Half)((float)BinaryPrimitives.ReadHalfLittleEndian(bytes.AsSpan(i)) * factor));
                break;
            case "BF16":
                for (var i = 0; i < bytes.Length; i += 2)
                    BinaryPrimitives.WriteUInt16LittleEndian(result.AsSpan(i), ToBFloat16(FromBFloat16(BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(i))) * factor));
                break;
            default:
                throw new ArgumentException($"'{fileName}': {entry.Name} is {entry.DType}, so α/r = {scale} cannot be folded into it.");
        }
        return result;
    }

    // bfloat16 is the top half of a float32.
    private static float FromBFloat16(ushort bits) => BitConverter.Int32BitsToSingle(bits << 16);

    // Round to nearest, ties to even, as torch's float → bfloat16 cast does; NaN stays a (quiet) NaN.
    private static ushort ToBFloat16(float value)
    {
        if (float.IsNaN(value))
            return 0x7FC0;
        var bits = BitConverter.SingleToUInt32Bits(value);
        return (ushort)((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);
    }

    /// <summary>A safetensors file: header length, JSON header padded with spaces to 8 bytes, data in key order.</summary>
    private static void Write(Stream output, List<(string Key, string DType, long[] Shape, byte[] Data)> tensors)
    {
        var ordered = tensors.OrderBy(t => t.Key, StringComparer.Ordinal).ToList();
        var json = new MemoryStream();
        using (var writer = new Utf8JsonWriter(json))
        {
            writer.WriteStartObject();
            writer.WriteStartObject("__metadata__");
            writer.WriteString("format", "pt");
            writer.WriteEndObject();
            long offset = 0;
            foreach (var (key, dtype, shape, data) in ordered)
            {
                writer.WriteStartObject(key);
                writer.WriteString("dtype", dtype);
                writer.WriteStartArray("shape");
                foreach (var dimension in shape)
                    writer.WriteNumberValue(dimension);
                writer.WriteEndArray();
                writer.WriteStartArray("data_offsets");
                writer.WriteNumberValue(offset);
                writer.WriteNumberValue(offset + data.Length);
                writer.WriteEndArray();
                writer.WriteEndObject();
                offset += data.Length;
            }
            writer.WriteEndObject();
        }
        var padding = (int)((8 - json.Length % 8) % 8);
        for (var i = 0; i < padding; i++)
            json.WriteByte((byte)' ');
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(length, json.Length);
        output.Write(length);
        json.Position = 0;
        json.CopyTo(output);
        foreach (var (_, _, _, data) in ordered)
            output.Write(data);
    }
}
