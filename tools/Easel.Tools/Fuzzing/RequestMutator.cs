using System.IO.Compression;
using System.Text;
using System.Text.Json.Nodes;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Easel.Tools.Fuzzing;

/// <summary>
/// One request body to send to <c>POST /v1/generations</c>: its content type (null = no header) and bytes.
/// <see cref="DeclaredExtraBytes"/> &gt; 0 means the transport declares that many more bytes than it sends and then
/// closes its side (a client that dies mid-upload); transports that cannot do that send the bytes as they are.
/// <see cref="IdempotencyKey"/>, when set, is sent as <c>Idempotency-Key</c> (unique per case), so that the body also
/// passes through the idempotency filter, which reads it before the endpoint does.
/// </summary>
public sealed record FuzzCase(string Kind, string? ContentType, byte[] Body, int DeclaredExtraBytes = 0)
{
    public string? IdempotencyKey { get; init; }

    /// <summary>The case as an HTTP request (the content type exactly as given, valid or not).</summary>
    public HttpRequestMessage ToHttpRequest()
    {
        var content = new ByteArrayContent(Body);
        if (ContentType is not null)
            content.Headers.TryAddWithoutValidation("Content-Type", ContentType);
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/generations") { Content = content };
        if (IdempotencyKey is not null)
            request.Headers.Add("Idempotency-Key", IdempotencyKey);
        return request;
    }
}

/// <summary>
/// Seeded, deterministic mutations of valid generation requests: JSON (fields dropped, misspelt, added, retyped,
/// repeated, huge or deeply nested values, byte-level damage: truncation, flipped bytes, invalid UTF-8), multipart
/// (unknown, repeated and misplaced parts, a missing or wrong boundary, truncation, part headers without a name) and
/// broken input images (truncated or corrupted PNG/JPEG, a header claiming a huge canvas, a compressed text chunk that
/// inflates to far more than it weighs) in both encodings, plus wrong content types. The same seed gives the same
/// cases in the same order.
/// </summary>
public sealed class RequestMutator(int seed)
{
    private const string Boundary = "easel-fuzz-boundary";

    private readonly Random _random = new(seed);
    private readonly byte[] _png = Png(64, 64);
    private readonly byte[] _jpeg = Jpeg(64, 64);

    private static readonly string[] KnownFields =
    [
        "prompt", "negative_prompt", "model", "width", "height", "steps", "guidance_scale", "seed", "scheduler",
        "num_images", "image", "mask", "strength", "webhook", "webhook_events", "cancel_after", "priority",
    ];

    private static readonly string[] UnknownFields =
    [
        "guidence_scale", "attend_and_excite", "stpes", "Prompt", "negativePrompt", "loras", "controlnets", "size", "n",
        "response_format", "", " ", "prompt ", "__proto__", "$ref", "a.b", "x[0]", "\u00e9t\u00e9", "\ud83d\ude00",
    ];

    /// <summary>The next case; kinds are drawn uniformly, the details of each from the same generator.</summary>
    public FuzzCase Next()
    {
        var generators = Generators();
        var (_, make) = generators[_random.Next(generators.Length)];
        var fuzzCase = make();
        return _random.Next(4) == 0 ? fuzzCase with { IdempotencyKey = $"fuzz-{seed}-{++_cases}" } : fuzzCase;
    }

    private int _cases;

    public IEnumerable<FuzzCase> Take(int count)
    {
        for (var i = 0; i < count; i++)
            yield return Next();
    }

    private (string Kind, Func<FuzzCase> Make)[] Generators() => _generatorsCache ??=
    [
        ("json valid", () => Json("json valid", BaseRequest())),
        ("json valid img2img", () => Json("json valid img2img", WithImage(BaseRequest(), _random.Next(2) == 0 ? _png : _jpeg))),
        ("json field dropped", () => Json("json field dropped", Drop(BaseRequest()))),
        ("json unknown field", () => Json("json unknown field", AddUnknown(BaseRequest()))),
        ("json misspelt field", () => Json("json misspelt field", Misspell(BaseRequest()))),
        ("json nested unknown", () => Json("json nested unknown", NestedUnknown(BaseRequest()))),
        ("json wrong type", () => Json("json wrong type", Retype(BaseRequest()))),
        ("json extreme value", () => Json("json extreme value", Extreme(BaseRequest()))),
        ("json duplicate field", () => DuplicateJsonField()),
        ("json deep nesting", () => DeepNesting()),
        ("json unstorable text", () => UnstorableText()),
        ("json truncated", () => Bytes("json truncated", "application/json", Truncate(JsonBytes(BaseRequest())))),
        ("json flipped bytes", () => Bytes("json flipped bytes", "application/json", Flip(JsonBytes(BaseRequest())))),
        ("json invalid utf-8", () => Bytes("json invalid utf-8", "application/json", InvalidUtf8(JsonBytes(BaseRequest())))),
        ("json not an object", () => NotAnObject()),
        ("json empty or blank", () => Bytes("json empty or blank", "application/json", Pick([""u8.ToArray(), " \r\n\t"u8.ToArray(), "\uFEFF"u8.ToArray()]))),
        ("json cut connection", () => Bytes("json cut connection", "application/json", JsonBytes(BaseRequest()), 1 + _random.Next(5000))),
        ("json broken image", () => Json("json broken image", WithImage(BaseRequest(), BrokenImage()))),
        ("json bad base64", () => Json("json bad base64", BadBase64(BaseRequest()))),
        ("json bad mask", () => Json("json bad mask", WithMask(WithImage(BaseRequest(), _png), BrokenImage()))),
        ("content type wrong", () => WrongContentType()),
        ("multipart valid", () => Multipart("multipart valid", FormFields(BaseRequest()), [("image", "in.png", _png)])),
        ("multipart unknown field", () => Multipart("multipart unknown field", [.. FormFields(BaseRequest()), (Pick(UnknownFields), "1")], [])),
        ("multipart duplicate part", () => MultipartDuplicate()),
        ("multipart misplaced part", () => MultipartMisplaced()),
        ("multipart wrong type", () => Multipart("multipart wrong type", FormFields(Retype(BaseRequest())), [])),
        ("multipart broken image", () => Multipart("multipart broken image", FormFields(BaseRequest()), [("image", "in.png", BrokenImage())])),
        ("multipart no boundary", () => new FuzzCase("multipart no boundary", Pick(["multipart/form-data", "multipart/form-data; boundary=", "multipart/form-data; boundary=\"\""]),
            MultipartBytes(FormFields(BaseRequest()), []))),
        ("multipart wrong boundary", () => new FuzzCase("multipart wrong boundary", "multipart/form-data; boundary=not-the-one",
            MultipartBytes(FormFields(BaseRequest()), [("image", "in.png", _png)]))),
        ("multipart truncated", () => Bytes("multipart truncated", $"multipart/form-data; boundary={Boundary}",
            Truncate(MultipartBytes(FormFields(BaseRequest()), [("image", "in.png", _png)])))),
        ("multipart flipped bytes", () => Bytes("multipart flipped bytes", $"multipart/form-data; boundary={Boundary}",
            Flip(MultipartBytes(FormFields(BaseRequest()), [("image", "in.png", _png)])))),
        ("multipart bad part headers", () => MultipartBadHeaders()),
        ("multipart nul in a value", () => Multipart("multipart nul in a value", [.. FormFields(BaseRequest()), (Pick(["negative_prompt", "scheduler", "cancel_after"]), "a\0b")], [])),
        ("multipart cut connection", () => Bytes("multipart cut connection", $"multipart/form-data; boundary={Boundary}",
            MultipartBytes(FormFields(BaseRequest()), [("image", "in.png", _png)]), 1 + _random.Next(5000))),
    ];

    private (string Kind, Func<FuzzCase> Make)[]? _generatorsCache;

    /// <summary>A valid, cheap text-to-image request (no width/height/steps: the model's defaults, which are small).</summary>
    private JsonObject BaseRequest()
    {
        var body = new JsonObject { ["prompt"] = Pick(["a red circle", "a small blue square on the left", "a green triangle"]) };
        if (_random.Next(2) == 0)
            body["seed"] = _random.Next(1_000_000);
        if (_random.Next(3) == 0)
            body["negative_prompt"] = "blurry";
        if (_random.Next(3) == 0)
            body["steps"] = 1 + _random.Next(3);
        if (_random.Next(4) == 0)
            body["priority"] = _random.Next(-100, 101);
        if (_random.Next(4) == 0)
            body["cancel_after"] = Pick(["90s", "5m", "1h30m", "600"]);
        if (_random.Next(4) == 0)
            body["scheduler"] = Pick(["euler", "ddim", "DPM++ 2M Karras", "euler_a"]);
        return body;
    }

    private static JsonObject WithImage(JsonObject body, byte[] image)
    {
        body["image"] = Convert.ToBase64String(image);
        return body;
    }

    private static JsonObject WithMask(JsonObject body, byte[] mask)
    {
        body["mask"] = Convert.ToBase64String(mask);
        return body;
    }

    private JsonObject Drop(JsonObject body)
    {
        var names = body.Select(p => p.Key).ToList();
        body.Remove(Pick([.. names]));
        return body;
    }

    private JsonObject AddUnknown(JsonObject body)
    {
        var name = Pick(UnknownFields);
        body[name] = name == "attend_and_excite"
            ? new JsonObject { ["token_indices"] = new JsonArray(2, 5), ["max_iter_to_alter"] = 25 }
            : RandomValue(2);
        return body;
    }

    private JsonObject Misspell(JsonObject body)
    {
        var name = Pick(KnownFields);
        var chars = name.ToCharArray().ToList();
        var at = _random.Next(chars.Count);
        switch (_random.Next(4))
        {
            case 0: chars.RemoveAt(at); break;
            case 1: chars.Insert(at, (char)('a' + _random.Next(26))); break;
            case 2: chars[at] = (char)('a' + _random.Next(26)); break;
            default:
                if (at + 1 < chars.Count)
                    (chars[at], chars[at + 1]) = (chars[at + 1], chars[at]);
                break;
        }
        var misspelt = new string([.. chars]);
        body.Remove(name);
        body[misspelt.Length == 0 ? "x" : misspelt] = name is "prompt" or "model" or "scheduler" ? "a red circle" : RandomValue(0);
        return body;
    }

    private JsonObject NestedUnknown(JsonObject body)
    {
        body[Pick(["webhook_events", "prompt", "steps", "image", "loras"])] = new JsonObject { ["name"] = "x", [Pick(UnknownFields)] = RandomValue(1) };
        return body;
    }

    private JsonObject Retype(JsonObject body)
    {
        body[Pick(KnownFields)] = RandomValue(2);
        return body;
    }

    private JsonObject Extreme(JsonObject body)
    {
        var field = Pick(["width", "height", "steps", "guidance_scale", "seed", "num_images", "strength", "priority", "prompt", "negative_prompt", "cancel_after", "webhook"]);
        body[field] = _random.Next(8) switch
        {
            0 => JsonNode.Parse("1e400"),
            1 => JsonNode.Parse("-1e400"),
            2 => JsonNode.Parse("99999999999999999999999999999"),
            3 => JsonNode.Parse("-0.0"),
            4 => JsonNode.Parse("2147483648"),
            5 => new string('a', 1 + _random.Next(200_000)),
            6 => Pick(["NaN", "Infinity", "-Infinity", "1e309s", "9999999h", "2026-13-45T99:99:99Z", "http://127.0.0.1/hook", "http://[::1]/x", "ftp://example.com/x", "http://user:pw@example.com/"]),
            _ => JsonNode.Parse("4.9e-324"),
        };
        return body;
    }

    private JsonNode? RandomValue(int depth) => _random.Next(depth > 0 ? 9 : 7) switch
    {
        0 => null,
        1 => _random.Next(2) == 0,
        2 => _random.Next(int.MinValue, int.MaxValue),
        3 => _random.NextDouble() * Math.Pow(10, _random.Next(-5, 20)),
        4 => Pick(["", " ", "many", "64", "7.5", "null", "true", "\u0000", "\ud800", "a,b,c", "started,progress"]),
        5 => new string((char)_random.Next(32, 0xD7FF), _random.Next(1, 100)),
        6 => _random.NextInt64(),
        7 => new JsonArray([.. Enumerable.Range(0, _random.Next(4)).Select(_ => RandomValue(depth - 1))]),
        _ => new JsonObject { ["k"] = RandomValue(depth - 1) },
    };

    private FuzzCase DuplicateJsonField()
    {
        var body = BaseRequest();
        var name = Pick([.. body.Select(p => p.Key)]);
        var text = body.ToJsonString();
        var duplicated = text.Insert(text.Length - 1, $",\"{name}\":{(name == "prompt" ? "\"again\"" : "1")}");
        return Bytes("json duplicate field", "application/json", Encoding.UTF8.GetBytes(duplicated));
    }

    /// <summary>Escapes that decode to text a database cannot hold: U+0000 (PostgreSQL) and unpaired surrogates.</summary>
    private FuzzCase UnstorableText()
    {
        var body = BaseRequest();
        var field = Pick(["prompt", "negative_prompt", "model", "scheduler", "cancel_after", "webhook", "image"]);
        body.Remove(field);
        var text = body.ToJsonString();
        var value = Pick(["a\\u0000b", "\\u0000", "a\\ud800b", "\\udc00", "\\ud800\\u0041", "\\ud83d\\ude00"]);
        return Bytes("json unstorable text", "application/json", Encoding.UTF8.GetBytes(text.Insert(text.Length - 1, $",\"{field}\":\"{value}\"")));
    }

    private FuzzCase DeepNesting()
    {
        var depth = Pick([33, 64, 1000, 100_000]);
        var open = _random.Next(2) == 0 ? "[" : "{\"a\":";
        var close = open == "[" ? "]" : "}";
        var text = "{\"prompt\":\"a red circle\",\"negative_prompt\":" + string.Concat(Enumerable.Repeat(open, depth)) + "1"
                   + string.Concat(Enumerable.Repeat(close, depth)) + "}";
        return Bytes("json deep nesting", "application/json", Encoding.UTF8.GetBytes(text));
    }

    private FuzzCase NotAnObject() => Bytes("json not an object", "application/json",
        Encoding.UTF8.GetBytes(Pick(["[]", "[{\"prompt\":\"a red circle\"}]", "\"a red circle\"", "42", "null", "true", "{}", "{\"prompt\":null}"])));

    private FuzzCase WrongContentType()
    {
        var body = JsonBytes(BaseRequest());
        var type = Pick([null, "text/plain", "application/xml", "application/x-www-form-urlencoded", "application/json; charset=utf-16",
            "application/octet-stream", "image/png", "application/vnd.easel+json", "multipart/mixed; boundary=x", "*/*", "application/", ";;;"]);
        return new FuzzCase("content type wrong", type, type == "application/x-www-form-urlencoded" ? "prompt=a+red+circle"u8.ToArray() : body);
    }

    private JsonObject BadBase64(JsonObject body)
    {
        body[Pick(["image", "mask"])] = Pick(["not base64!", "data:image/png,abc", "data:image/png;base64", "data:;base64,====",
            "====", "QUJD\u0000", new string('A', 1 + _random.Next(1000)), "data:image/png;base64," + Convert.ToBase64String(_png)[..40]]);
        return body;
    }

    /// <summary>A PNG or JPEG damaged in one of the ways crafted uploads are.</summary>
    private byte[] BrokenImage()
    {
        var source = (byte[])(_random.Next(2) == 0 ? _png : _jpeg).Clone();
        return _random.Next(7) switch
        {
            0 => Truncate(source),
            1 => Flip(source),
            2 => PngWithSize(_random.Next(2) == 0 ? 100_000 : int.MaxValue, _random.Next(2) == 0 ? 100_000 : 1),
            3 => PngWithTextBomb(),
            4 => [.. source.Take(_random.Next(1, 64))],
            5 => [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A, .. RandomBytes(_random.Next(0, 200))],
            _ => [0xFF, 0xD8, 0xFF, .. RandomBytes(_random.Next(0, 500))],
        };
    }

    /// <summary>The 64×64 PNG with its IHDR claiming another size (CRC fixed, so only the size is wrong).</summary>
    private byte[] PngWithSize(int width, int height)
    {
        var png = (byte[])_png.Clone();
        WriteBigEndian(png, 16, width);
        WriteBigEndian(png, 20, height);
        WriteBigEndian(png, 29, (int)Crc32(png.AsSpan(12, 17)));
        return png;
    }

    /// <summary>A valid PNG with a zTXt chunk of 64 KiB that inflates to 64 MiB (a metadata decompression bomb).</summary>
    private byte[] PngWithTextBomb() => PngWithCompressedText(_png, inflatedBytes: 64 << 20);

    /// <summary><paramref name="png"/> with a zTXt chunk after IHDR whose deflated zeros inflate to <paramref name="inflatedBytes"/>.</summary>
    public static byte[] PngWithCompressedText(byte[] png, int inflatedBytes)
    {
        using var compressed = new MemoryStream();
        using (var zlib = new ZLibStream(compressed, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            var zeros = new byte[1 << 20];
            for (var written = 0; written < inflatedBytes; written += zeros.Length)
                zlib.Write(zeros);
        }
        var data = new List<byte>();
        data.AddRange("Comment"u8.ToArray());
        data.Add(0); // keyword terminator
        data.Add(0); // compression method: deflate
        data.AddRange(compressed.ToArray());
        var chunk = Chunk("zTXt", [.. data]);
        return [.. png.Take(33), .. chunk, .. png.Skip(33)];
    }

    private static byte[] Chunk(string type, byte[] data)
    {
        var chunk = new byte[12 + data.Length];
        WriteBigEndian(chunk, 0, data.Length);
        Encoding.ASCII.GetBytes(type).CopyTo(chunk, 4);
        data.CopyTo(chunk, 8);
        WriteBigEndian(chunk, 8 + data.Length, (int)Crc32(chunk.AsSpan(4, 4 + data.Length)));
        return chunk;
    }

    private FuzzCase MultipartDuplicate()
    {
        var fields = FormFields(BaseRequest());
        return _random.Next(3) switch
        {
            0 => Multipart("multipart duplicate part", [.. fields, ("prompt", "again")], []),
            1 => Multipart("multipart duplicate part", fields, [("image", "a.png", _png), ("image", "b.png", _png)]),
            _ => Multipart("multipart duplicate part", [.. fields, ("image", Convert.ToBase64String(_png))], [("image", "a.png", _png)]),
        };
    }

    private FuzzCase MultipartMisplaced()
    {
        var fields = FormFields(BaseRequest());
        return _random.Next(3) switch
        {
            0 => Multipart("multipart misplaced part", [.. fields.Where(f => f.Name != "prompt")], [("prompt", "prompt.txt", "a red circle"u8.ToArray())]),
            1 => Multipart("multipart misplaced part", [.. fields, ("image", "not base64 at all")], []),
            _ => Multipart("multipart misplaced part", fields, [(Pick(UnknownFields), "x.png", _png)]),
        };
    }

    private FuzzCase MultipartBadHeaders()
    {
        var part = _random.Next(5) switch
        {
            0 => "Content-Type: text/plain\r\n\r\na red circle",
            1 => "Content-Disposition: form-data\r\n\r\na red circle",
            2 => "Content-Disposition: form-data; name=\"prompt\"\r\n" + new string('X', 20_000) + ": y\r\n\r\na red circle",
            3 => "Content-Disposition: form-data; name=\"" + new string('p', 5000) + "\"\r\n\r\na",
            _ => "garbage without a colon\r\n\r\na red circle",
        };
        var text = $"--{Boundary}\r\n{part}\r\n--{Boundary}--\r\n";
        return Bytes("multipart bad part headers", $"multipart/form-data; boundary={Boundary}", Encoding.UTF8.GetBytes(text));
    }

    private static List<(string Name, string Value)> FormFields(JsonObject body) =>
    [
        .. body.Select(p => (p.Key, p.Value switch
        {
            null => "",
            JsonValue v when v.TryGetValue<string>(out var s) => s,
            var other => other.ToJsonString(),
        })),
    ];

    private FuzzCase Multipart(string kind, List<(string Name, string Value)> fields, List<(string Name, string FileName, byte[] Bytes)> files) =>
        new(kind, $"multipart/form-data; boundary={Boundary}", MultipartBytes(fields, files));

    private static byte[] MultipartBytes(List<(string Name, string Value)> fields, List<(string Name, string FileName, byte[] Bytes)> files)
    {
        using var body = new MemoryStream();
        void Write(string text) => body.Write(Encoding.UTF8.GetBytes(text));
        foreach (var (name, value) in fields)
            Write($"--{Boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n");
        foreach (var (name, fileName, bytes) in files)
        {
            Write($"--{Boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{fileName}\"\r\nContent-Type: application/octet-stream\r\n\r\n");
            body.Write(bytes);
            Write("\r\n");
        }
        Write($"--{Boundary}--\r\n");
        return body.ToArray();
    }

    private static FuzzCase Json(string kind, JsonObject body) => new(kind, "application/json", JsonBytes(body));

    private static FuzzCase Bytes(string kind, string? contentType, byte[] body, int declaredExtraBytes = 0) =>
        new(kind, contentType, body, declaredExtraBytes);

    private static byte[] JsonBytes(JsonNode body) => Encoding.UTF8.GetBytes(body.ToJsonString());

    private byte[] Truncate(byte[] bytes) => bytes.Length <= 1 ? [] : bytes[.._random.Next(1, bytes.Length)];

    private byte[] Flip(byte[] bytes)
    {
        var copy = (byte[])bytes.Clone();
        for (var i = 0; i < 1 + _random.Next(8) && copy.Length > 0; i++)
            copy[_random.Next(copy.Length)] ^= (byte)(1 << _random.Next(8));
        return copy;
    }

    private byte[] InvalidUtf8(byte[] bytes)
    {
        byte[] bad = Pick([new byte[] { 0xFF }, [0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF8, 0x88, 0x80, 0x80, 0x80], [0xE2, 0x82]]);
        // Inside the prompt's string value, where a lenient reader would let it through.
        var text = Encoding.UTF8.GetString(bytes);
        var at = text.IndexOf("\"prompt\":\"", StringComparison.Ordinal);
        var offset = at < 0 ? _random.Next(bytes.Length) : Encoding.UTF8.GetByteCount(text[..(at + 10)]);
        return [.. bytes.Take(offset), .. bad, .. bytes.Skip(offset)];
    }

    private byte[] RandomBytes(int count)
    {
        var bytes = new byte[count];
        _random.NextBytes(bytes);
        return bytes;
    }

    private T Pick<T>(T[] items) => items[_random.Next(items.Length)];

    private static void WriteBigEndian(byte[] buffer, int offset, int value) =>
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(buffer.AsSpan(offset), value);

    /// <summary>The CRC-32 of PNG chunks (ISO 3309, reflected polynomial 0xEDB88320).</summary>
    private static uint Crc32(ReadOnlySpan<byte> data)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in data)
        {
            crc ^= b;
            for (var bit = 0; bit < 8; bit++)
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
        }
        return ~crc;
    }

    private static byte[] Png(int width, int height)
    {
        using var image = new Image<Rgb24>(width, height);
        for (var y = 0; y < height; y++)
            for (var x = 0; x < width; x++)
                image[x, y] = new Rgb24((byte)(4 * x), (byte)(4 * y), 96);
        using var stream = new MemoryStream();
        image.SaveAsPng(stream);
        return stream.ToArray();
    }

    private static byte[] Jpeg(int width, int height)
    {
        using var image = Image.Load<Rgb24>(Png(width, height));
        using var stream = new MemoryStream();
        image.SaveAsJpeg(stream);
        return stream.ToArray();
    }
}
