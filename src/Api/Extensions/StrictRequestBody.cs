using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;
using System.Text.Unicode;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Net.Http.Headers;

namespace Easel.Api.Extensions;

/// <summary>
/// Reads a request body into its request record strictly, as Stripe and OpenAI do: a field the record does not have
/// (<see cref="RequestContract"/>), a field given twice, a value of the wrong type, a body that is empty, not UTF-8, not
/// JSON, nested too deep, not an object, truncated, or a multipart body without a boundary — each is a refusal
/// (400, 413 or 415 problem with <c>errors</c>) before anything is validated or stored. Multipart forms use the same
/// field names: each text field becomes the JSON value its property expects, so both encodings share one contract.
/// </summary>
public static class StrictRequestBody
{
    /// <summary>The <c>errors</c> key of a problem with the body as a whole rather than one field.</summary>
    public const string BodyKey = "body";

    public const string ContentTypeKey = "Content-Type";

    /// <summary>Deeper JSON is refused; no request record nests more than a few levels.</summary>
    public const int MaxDepth = 32;

    public static bool IsJson(HttpRequest request) => request.HasJsonContentType();

    public static bool IsMultipart(HttpRequest request) =>
        MediaTypeHeaderValue.TryParse(request.ContentType, out var type)
        && type.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase);

    /// <summary>415: the body's content type is none of <paramref name="accepted"/>.</summary>
    public static BodyRefusal UnsupportedContentType(HttpRequest request, string accepted) => new(
        StatusCodes.Status415UnsupportedMediaType, "Unsupported content type.",
        One(ContentTypeKey, $"Content-Type '{(string.IsNullOrWhiteSpace(request.ContentType) ? "(none)" : request.ContentType)}' is not accepted; send {accepted}."));

    /// <summary>
    /// Gives the refusals that the framework writes itself an <c>errors</c> member too: the router's 415 for a content
    /// type that no endpoint of the route accepts, the server's 413 for a body over its limit (both bare statuses that
    /// the status-code pages turn into problems). Registered as <see cref="ProblemDetailsOptions.CustomizeProblemDetails"/>.
    /// </summary>
    public static void AddErrorsToBareRefusal(ProblemDetailsContext context)
    {
        var problem = context.ProblemDetails;
        if (problem is HttpValidationProblemDetails || problem.Extensions.ContainsKey("errors"))
            return;
        var contentType = context.HttpContext.Request.ContentType;
        if (problem.Status == StatusCodes.Status415UnsupportedMediaType)
            problem.Extensions["errors"] = One(ContentTypeKey,
                $"Content-Type '{(string.IsNullOrWhiteSpace(contentType) ? "(none)" : contentType)}' is not accepted here; the operation's request body in /swagger lists the types it takes.");
        else if (problem.Status == StatusCodes.Status413PayloadTooLarge)
            problem.Extensions["errors"] = One(BodyKey, "The body is larger than this endpoint accepts.");
    }

    /// <summary>A JSON body (UTF-8, at most <paramref name="maxBytes"/>) as <typeparamref name="T"/>.</summary>
    public static async Task<RequestBody<T>> ReadJsonAsync<T>(
        HttpRequest request, JsonSerializerOptions options, long maxBytes, CancellationToken cancellationToken) where T : class
    {
        if (MediaTypeHeaderValue.TryParse(request.ContentType, out var type) && type.Charset.HasValue
            && !type.Charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase))
            return new(new BodyRefusal(StatusCodes.Status415UnsupportedMediaType, "Unsupported content type.",
                One(ContentTypeKey, $"charset '{type.Charset}' is not accepted; JSON bodies are UTF-8.")));

        var (bytes, refusal) = await ReadAllAsync(request, maxBytes, cancellationToken);
        if (refusal is not null)
            return new(refusal);
        var utf8 = bytes.AsMemory();
        if (utf8.Span.StartsWith("\uFEFF"u8))
            utf8 = utf8[3..];
        if (utf8.IsEmpty || utf8.Span.Trim(" \t\r\n"u8).IsEmpty)
            return new(Unreadable("The body is empty; send a JSON object."));
        if (!Utf8.IsValid(utf8.Span))
            return new(Unreadable("The body is not valid UTF-8."));

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(utf8, new JsonDocumentOptions { MaxDepth = MaxDepth });
        }
        catch (JsonException e)
        {
            return new(Unreadable($"The body is not valid JSON (or nests deeper than {MaxDepth} levels): {e.Message}"));
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                return new(Unreadable($"The body must be a JSON object, not {Article(document.RootElement.ValueKind)}."));
            var typeInfo = options.GetTypeInfo(typeof(T));
            var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
            RequestContract.FindUnexpectedFields(document.RootElement, typeInfo, errors);
            if (errors.Count > 0)
                return new(new BodyRefusal(StatusCodes.Status400BadRequest, "The request has unknown or repeated fields.", errors));
            return Deserialize<T>(typeInfo, t => document.RootElement.Deserialize(t), []);
        }
    }

    /// <summary>
    /// A multipart/form-data body as <typeparamref name="T"/>: text fields by their JSON names, and the file parts
    /// named in <paramref name="fileFields"/> (each at most <paramref name="maxFileBytes"/>) returned as bytes; a field of
    /// <paramref name="repeatableFileFields"/> may come as several parts (a list of files, in the order sent). A file field
    /// written <c>list[].field</c> (e.g. <c>controlnets[].image</c>) is sent as parts named <c>list[0].field</c>, … for the
    /// entries of the list field, which comes as a JSON array text field.
    /// </summary>
    public static async Task<RequestBody<T>> ReadMultipartAsync<T>(
        HttpRequest request, JsonSerializerOptions options, FormOptions formOptions, IReadOnlyCollection<string> fileFields,
        long maxFileBytes, CancellationToken cancellationToken, IReadOnlyCollection<string>? repeatableFileFields = null) where T : class
    {
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var type) || HeaderUtilities.RemoveQuotes(type.Boundary).Length == 0)
            return new(new BodyRefusal(StatusCodes.Status400BadRequest, "The request could not be read.",
                One(ContentTypeKey, "multipart/form-data needs a boundary parameter (Content-Type: multipart/form-data; boundary=...).")));

        request.HttpContext.Features.Set<IFormFeature>(new FormFeature(request, formOptions));
        IFormCollection form;
        try
        {
            form = await request.ReadFormAsync(cancellationToken);
        }
        catch (InvalidDataException e)
        {
            // The form reader says which of its limits a body broke only in the message: body and value lengths are a
            // matter of size (413); every other malformation (headers, boundary, counts) is a bad request.
            var tooLarge = e.Message.Contains("body length limit", StringComparison.OrdinalIgnoreCase)
                           || e.Message.Contains("value length limit", StringComparison.OrdinalIgnoreCase);
            return new(new BodyRefusal(tooLarge ? StatusCodes.Status413PayloadTooLarge : StatusCodes.Status400BadRequest,
                tooLarge ? "The request body is too large." : "The request could not be read.",
                One(BodyKey, $"The multipart body could not be read: {e.Message}")));
        }
        catch (Exception e) when (ReadFailure(e, cancellationToken) is { } failure)
        {
            return new(failure);
        }

        var typeInfo = options.GetTypeInfo(typeof(T));
        var known = RequestContract.FieldNames(typeInfo);
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        var status = StatusCodes.Status400BadRequest;
        var json = new JsonObject();
        const string Nameless = "A part has no name; each needs Content-Disposition: form-data; name=\"<field>\".";
        foreach (var (name, values) in form)
        {
            if (name.Length == 0)
                errors[BodyKey] = [Nameless];
            else if (RequestContract.Field(typeInfo, name) is not { } property)
                errors[name] = [RequestContract.UnknownFieldMessage(name, "", known)];
            else if (form.Files.Any(f => f.Name == name))
                errors[name] = [$"{name} is given both as a text field and as a file part; send it once."];
            else if (FormValue(name, values, options.GetTypeInfo(property.PropertyType),
                         property.AttributeProvider?.IsDefined(typeof(Core.FreeTextItemsAttribute), inherit: false) == true, out var error) is { } value)
                json[name] = value;
            else if (error is not null)
                errors[name] = [error];
        }

        var files = new Dictionary<string, IReadOnlyList<byte[]>>(StringComparer.Ordinal);
        foreach (var parts in form.Files.GroupBy(f => f.Name, StringComparer.Ordinal))
        {
            var name = parts.Key;
            if (name.Length == 0)
                errors[BodyKey] = [Nameless];
            else if (IndexedFileField(name, fileFields) is { } indexed)
            {
                if (!json.TryGetPropertyValue(indexed.List, out var list) || list is not JsonArray entries || indexed.Index >= entries.Count)
                    errors[name] = [$"{name} belongs to entry {indexed.Index} of {indexed.List}, which the form's {indexed.List} field does not have."];
                else if (parts.Count() > 1)
                    errors[name] = [$"{name} is given {parts.Count()} times; send one file."];
                else if (parts.Single().Length > maxFileBytes)
                {
                    status = StatusCodes.Status413PayloadTooLarge;
                    errors[name] = [$"The {name} is {parts.Single().Length} bytes; at most {maxFileBytes} are accepted."];
                }
                else
                {
                    using var buffer = new MemoryStream((int)parts.Single().Length);
                    await parts.Single().CopyToAsync(buffer, cancellationToken);
                    files[name] = [buffer.ToArray()];
                }
            }
            else if (RequestContract.Field(typeInfo, name) is null)
                errors[name] = [RequestContract.UnknownFieldMessage(name, "", known)];
            else if (!fileFields.Contains(name))
                errors[name] = [$"{name} is a text field; send it as a form value, not as a file part."];
            else if (parts.Count() > 1 && repeatableFileFields?.Contains(name) != true)
                errors[name] = [$"{name} is given {parts.Count()} times; send one file."];
            else if (parts.Select((part, i) => (part, i)).FirstOrDefault(p => p.part.Length > maxFileBytes) is { part: { } large } tooLarge)
            {
                status = StatusCodes.Status413PayloadTooLarge;
                var field = parts.Count() > 1 ? $"{name}[{tooLarge.i}]" : name;
                errors[field] = [$"The {field} is {large.Length} bytes; at most {maxFileBytes} are accepted."];
            }
            else
            {
                var contents = new List<byte[]>();
                foreach (var part in parts)
                {
                    using var buffer = new MemoryStream((int)part.Length);
                    await part.CopyToAsync(buffer, cancellationToken);
                    contents.Add(buffer.ToArray());
                }
                files[name] = contents;
            }
            if (errors.Count >= RequestContract.MaxReportedFields)
                break;
        }
        if (errors.Count == 0)
            RequestContract.FindUnexpectedFields(JsonSerializer.SerializeToElement(json), typeInfo, errors);
        if (errors.Count > 0)
            return new(new BodyRefusal(status, status == StatusCodes.Status413PayloadTooLarge ? "An input is too large." : "The request is invalid.", errors));
        return Deserialize<T>(typeInfo, t => json.Deserialize(t), files);
    }

    /// <summary>A part name <c>list[i].field</c> whose <c>list[].field</c> is one of <paramref name="fileFields"/>, or null.</summary>
    private static (string List, int Index)? IndexedFileField(string name, IReadOnlyCollection<string> fileFields)
    {
        var open = name.IndexOf('[');
        var close = name.IndexOf("].", StringComparison.Ordinal);
        if (open <= 0 || close <= open + 1 || !int.TryParse(name.AsSpan(open + 1, close - open - 1), System.Globalization.NumberStyles.None,
                System.Globalization.CultureInfo.InvariantCulture, out var index))
            return null;
        return fileFields.Contains($"{name[..open]}[]{name[(close + 1)..]}") ? (name[..open], index) : null;
    }

    /// <summary>
    /// The JSON value a form field stands for, by the type of its property: text for strings; for lists the repeated values
    /// as they are (so that an item may hold a comma), or one value as a JSON array or comma-separated (one item for a list
    /// of <see cref="Core.FreeTextItemsAttribute">free text</see>); JSON for objects, the literal for numbers and booleans (anything else stays
    /// text, so that the deserializer names the field). Empty values mean the field is omitted.
    /// </summary>
    private static JsonNode? FormValue(string name, Microsoft.Extensions.Primitives.StringValues values, JsonTypeInfo type, bool freeText, out string? error)
    {
        error = null;
        var texts = values.Where(v => !string.IsNullOrWhiteSpace(v)).Select(v => v!).ToList();
        if (texts.Count == 0)
            return null;
        if (type.Kind == JsonTypeInfoKind.Enumerable && type.ElementType is { } itemType)
        {
            if (texts.Count == 1 && texts[0].TrimStart().StartsWith('[') && TryParseArray(texts[0]) is { } array)
                return array;
            if (texts.Count > 1 || freeText)
                return new JsonArray([.. texts.Select(item => Scalar(item.Trim(), itemType))]);
            return new JsonArray([.. texts[0].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(item => Scalar(item, itemType))]);
        }
        if (texts.Count > 1)
        {
            error = $"{name} is given {texts.Count} times; send it once.";
            return null;
        }
        if (type.Kind is JsonTypeInfoKind.Object or JsonTypeInfoKind.Dictionary
            || (type.Kind == JsonTypeInfoKind.None && texts[0].TrimStart().StartsWith('{'))) // a union of a literal and an object
        {
            try
            {
                return JsonNode.Parse(texts[0], documentOptions: new JsonDocumentOptions { MaxDepth = MaxDepth });
            }
            catch (JsonException)
            {
                error = $"{name} must be a JSON object in a multipart form.";
                return null;
            }
        }
        return Scalar(texts[0], type.Type);
    }

    private static JsonArray? TryParseArray(string text)
    {
        try
        {
            return JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { MaxDepth = MaxDepth }) as JsonArray;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static JsonNode? Scalar(string text, Type type)
    {
        if (type == typeof(string))
            return JsonValue.Create(text);
        try
        {
            if (JsonNode.Parse(text.Trim()) is JsonValue literal && literal.GetValueKind() is JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False)
                return literal;
        }
        catch (JsonException)
        {
        }
        return JsonValue.Create(text);
    }

    private static RequestBody<T> Deserialize<T>(JsonTypeInfo typeInfo, Func<JsonTypeInfo, object?> deserialize, Dictionary<string, IReadOnlyList<byte[]>> files)
        where T : class
    {
        try
        {
            return deserialize(typeInfo) is T value ? new(value, files) : new(Unreadable("The body is null; send a JSON object."));
        }
        catch (JsonException e)
        {
            var field = e.Path is { Length: > 2 } path && path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : null;
            if (field is null)
                return new(Unreadable($"The body does not match the request: {e.Message}"));
            var top = field.Split('.', '[')[0];
            var expected = RequestContract.Field(typeInfo, top) is { } property && top == field ? $" (expected {Describe(property.PropertyType)})" : "";
            return new(new BodyRefusal(StatusCodes.Status400BadRequest, "The request is invalid.",
                One(field, $"The value of {field} has the wrong type or is out of range{expected}.")));
        }
    }

    private static string Describe(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type.GetCustomAttributes(typeof(Core.Generation.JsonShapeAttribute), false) is [Core.Generation.JsonShapeAttribute shape])
            return shape.Description;
        if (type == typeof(string))
            return "a string";
        if (type == typeof(bool))
            return "true or false";
        if (type == typeof(int) || type == typeof(long) || type == typeof(short))
            return $"an integer from {(type == typeof(int) ? int.MinValue : long.MinValue)} to {(type == typeof(int) ? int.MaxValue : long.MaxValue)}";
        if (type == typeof(double) || type == typeof(float) || type == typeof(decimal))
            return "a number";
        if (type.IsEnum)
            return "one of " + string.Join(", ", Enum.GetNames(type).Select(JsonNamingPolicy.SnakeCaseLower.ConvertName));
        if (type != typeof(string) && type.IsAssignableTo(typeof(System.Collections.IEnumerable)))
            return "an array";
        return "an object";
    }

    /// <summary>The whole body, refused past <paramref name="maxBytes"/> (413) or when it ends before its declared length.</summary>
    private static async Task<(byte[] Bytes, BodyRefusal? Refusal)> ReadAllAsync(HttpRequest request, long maxBytes, CancellationToken cancellationToken)
    {
        if (request.ContentLength > maxBytes)
            return ([], TooLarge(request.ContentLength.Value, maxBytes));
        try
        {
            using var buffer = new MemoryStream();
            var chunk = new byte[81920];
            int read;
            while ((read = await request.Body.ReadAsync(chunk, cancellationToken)) > 0)
            {
                if (buffer.Length + read > maxBytes)
                    return ([], TooLarge(buffer.Length + read, maxBytes));
                buffer.Write(chunk, 0, read);
            }
            return (buffer.ToArray(), null);
        }
        catch (Exception e) when (ReadFailure(e, cancellationToken) is { } failure)
        {
            return ([], failure);
        }
    }

    /// <summary>
    /// A body that could not be read to its end: over the server's size limit (413), or cut short — the client declared
    /// more than it sent (400). Null for anything else, and when the client itself went away.
    /// </summary>
    private static BodyRefusal? ReadFailure(Exception e, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
            return null;
        return e switch
        {
            BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } =>
                new BodyRefusal(StatusCodes.Status413PayloadTooLarge, "The request body is too large.", One(BodyKey, e.Message)),
            BadHttpRequestException bad => new BodyRefusal(bad.StatusCode, "The request could not be read.", One(BodyKey, e.Message)),
            IOException => Unreadable($"The body ended before it was complete: {e.Message}"),
            _ => null,
        };
    }

    private static BodyRefusal TooLarge(long bytes, long maxBytes) => new(StatusCodes.Status413PayloadTooLarge,
        "The request body is too large.", One(BodyKey, $"The body is {bytes} bytes or more; at most {maxBytes} are accepted."));

    private static BodyRefusal Unreadable(string message) =>
        new(StatusCodes.Status400BadRequest, "The request could not be read.", One(BodyKey, message));

    private static Dictionary<string, string[]> One(string key, string message) => new(StringComparer.Ordinal) { [key] = [message] };

    private static string Article(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.Null => "null",
        _ => "true or false",
    };
}

/// <summary>The request read from the body (with its file parts), or why it was refused.</summary>
public sealed record RequestBody<T>(T? Value, IReadOnlyDictionary<string, IReadOnlyList<byte[]>> Files, BodyRefusal? Refusal) where T : class
{
    public RequestBody(BodyRefusal refusal) : this(null, new Dictionary<string, IReadOnlyList<byte[]>>(), refusal)
    {
    }

    public RequestBody(T value, IReadOnlyDictionary<string, IReadOnlyList<byte[]>> files) : this(value, files, null)
    {
    }

    /// <summary>The one file part sent as <paramref name="name"/>, or null.</summary>
    public byte[]? File(string name) => Files.GetValueOrDefault(name) is [var file] ? file : null;
}

/// <summary>A refused body: the status (400, 413 or 415), a title, and the errors keyed by field (or <c>body</c>, <c>Content-Type</c>).</summary>
public sealed record BodyRefusal(int Status, string Title, IDictionary<string, string[]> Errors)
{
    public ProblemHttpResult ToProblem() =>
        TypedResults.Problem(new HttpValidationProblemDetails(Errors) { Status = Status, Title = Title });
}
