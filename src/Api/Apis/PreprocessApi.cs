using System.Text.Json.Nodes;
using Easel.Api.Extensions;
using Easel.Core.Generation;
using Easel.Core.Images;
using Easel.Core.Options;
using Easel.Inference.Control.Preprocessors;
using Easel.Inference.Shapes;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;

namespace Easel.Api.Apis;

public static class PreprocessApi
{
    /// <summary>The field a multipart request may send as a file part.</summary>
    public static readonly IReadOnlyList<string> UploadFields = ["image"];

    private static readonly PngEncoder RgbPng = new() { ColorType = PngColorType.Rgb, BitDepth = PngBitDepth.Bit8 };

    public static IEndpointRouteBuilder MapPreprocessEndpoints(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("v1/preprocess").WithTags("Preprocess");

        api.MapPost("", Preprocess)
            .WithName("Preprocess")
            .WithSummary("Turn an image into a control map (what A1111's /controlnet/detect does)")
            .WithDescription("`preprocessor`: " + string.Join(", ", ControlPreprocessors.Names) + ". `canny`: Canny edges, white on "
                + "black (`low_threshold` default 100, `high_threshold` default 200, on the L1 Sobel magnitude as cv2.Canny; "
                + "`blur_sigma` default 0 smooths first); `scribble`: the same edges thickened and binarised (as A1111's scribble); "
                + "`lineart`: dark lines as white on black (A1111's lineart polarity); `color`: the T2I-Adapter colour palette "
                + "(cells of an eighth of the short side averaged: 64 pixels at 512, as A1111's); `shuffle`: a seeded random smooth warp (`seed`, default 0); `invert`; `none`. "
                + "With `width` and `height` the image is first brought to that size by `resize_mode`: `resize` (stretch), `crop` "
                + "(cover and centre-crop, the default) or `fill` (fit, padded with the border's median colour). Send JSON with "
                + "`image` as base64 PNG or JPEG (a data: URI prefix is allowed) or multipart/form-data with `image` as a file part. "
                + "Answers the map as image/png. Refusals name the field: 400 for an unknown field, a missing or bad image (as "
                + "POST /v1/generations), a parameter the preprocessor does not use or out of range; 413 for an image above "
                + "Easel:Generation:MaxInputImageBytes; 422 for an unknown preprocessor (the known names are listed).")
            .AddEndpointFilter(AllowLargeBodyAsync)
            .Accepts<PreprocessRequest>("application/json", "multipart/form-data")
            .WithRequestExample(new JsonObject { ["preprocessor"] = "canny", ["image"] = ExampleImage })
            .Produces<Stream>(StatusCodes.Status200OK, "image/png")
            .ProducesValidationProblem()
            .ProducesValidationProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesValidationProblem(StatusCodes.Status422UnprocessableEntity)
            .ProducesProblem(StatusCodes.Status429TooManyRequests);
        return app;
    }

    /// <summary>A rendered shapes scene (a red square on grey) as base64 PNG: the example finds the square's outline.</summary>
    private static string ExampleImage
    {
        get
        {
            var scene = new Scene(ShapePalette.Backgrounds[0], [new SceneObject(ShapeKind.Square, ShapeColor.Red, ShapeSize.Large, 32, 32, 12)]);
            using var image = SixLabors.ImageSharp.Image.LoadPixelData<Rgb24>(ShapeRenderer.Render(scene), ShapeRenderer.Size, ShapeRenderer.Size);
            using var png = new MemoryStream();
            image.SaveAsPng(png, RgbPng);
            return Convert.ToBase64String(png.ToArray());
        }
    }

    public static async Task<Results<FileContentHttpResult, ProblemHttpResult>> Preprocess(
        HttpRequest http, IOptions<GenerationOptions> options, IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions> json,
        ILogger<PreprocessRequest> logger, CancellationToken cancellationToken)
    {
        var limits = options.Value;
        var serializer = json.Value.SerializerOptions;
        RequestBody<PreprocessRequest> body;
        if (StrictRequestBody.IsJson(http))
            body = await StrictRequestBody.ReadJsonAsync<PreprocessRequest>(http, serializer, BodyLimit(limits), cancellationToken);
        else if (StrictRequestBody.IsMultipart(http))
            body = await StrictRequestBody.ReadMultipartAsync<PreprocessRequest>(http, serializer, new FormOptions
            {
                MultipartBodyLengthLimit = BodyLimit(limits),
                ValueLengthLimit = (int)Math.Min(int.MaxValue, limits.MaxInputImageBytes * 4 / 3 + 16),
            }, UploadFields, limits.MaxInputImageBytes, cancellationToken);
        else
            body = new(StrictRequestBody.UnsupportedContentType(http, "application/json or multipart/form-data"));
        if (body.Refusal is { } refusal)
            return refusal.ToProblem();

        var request = body.Value!;
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        var status = StatusCodes.Status400BadRequest;
        void Add(string field, string message) => errors[field] = [.. errors.GetValueOrDefault(field, []), message];

        using var image = ReadImage(request, body.File("image"), limits, Add, ref status);

        if (request.Width is null != request.Height is null)
            Add(request.Width is null ? "width" : "height", "width and height come together: send both to resize the image, or neither.");
        foreach (var (field, value) in new[] { ("width", request.Width), ("height", request.Height) })
            if (value is { } side && (side < limits.MinSize || side > limits.MaxSize))
                Add(field, $"{field} must be between {limits.MinSize} and {limits.MaxSize}.");
        if (request.Width is { } w && request.Height is { } h && (long)w * h > limits.MaxPixels)
            Add("width", $"width × height = {(long)w * h} pixels; at most {limits.MaxPixels} are accepted.");
        if (request.ResizeMode is not null && request.Width is null)
            Add("resize_mode", "resize_mode applies only with width and height.");
        var (preprocessor, parameters, mode, unknownPreprocessor) = PreprocessorFields.Read("", request.Preprocessor, required: true,
            request.ResizeMode, request.LowThreshold, request.HighThreshold, request.BlurSigma, request.Seed, "seed", Add);

        if (errors.Count > 0)
        {
            if (status != StatusCodes.Status413PayloadTooLarge && unknownPreprocessor && errors.Count == 1)
                status = StatusCodes.Status422UnprocessableEntity;
            return TypedResults.Problem(new HttpValidationProblemDetails(errors)
            {
                Status = status,
                Title = status switch
                {
                    StatusCodes.Status413PayloadTooLarge => "The image is too large.",
                    StatusCodes.Status422UnprocessableEntity => "No such preprocessor.",
                    _ => "The preprocess request is invalid.",
                },
            });
        }

        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        using var sized = request.Width is { } width && request.Height is { } height
            ? ControlImageResize.Apply(image!, width, height, mode)
            : image!.Clone();
        using var map = preprocessor!.Apply(sized, parameters);
        using var png = new MemoryStream();
        await map.SaveAsPngAsync(png, RgbPng, cancellationToken);
        logger.LogInformation("Preprocessed a {Width}×{Height} image with {Preprocessor} in {Milliseconds:0} ms",
            map.Width, map.Height, preprocessor.Name, System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        return TypedResults.File(png.ToArray(), "image/png");
    }

    /// <summary>The uploaded file part, else the base64 field, decoded as POST /v1/generations decodes its image.</summary>
    private static Image<Rgb24>? ReadImage(PreprocessRequest request, byte[]? file, GenerationOptions limits, Action<string, string> add, ref int status)
    {
        var bytes = file;
        if (bytes is null)
        {
            if (request.Image is not { } base64)
            {
                add("image", "image is required: base64 PNG or JPEG, or a multipart file part.");
                return null;
            }
            if (!GenerationRequestValidator.TryDecodeBase64(base64, limits.MaxInputImageBytes, out bytes, out var problem))
            {
                status = problem!.Status == 413 ? 413 : status;
                add("image", problem.Message);
                return null;
            }
        }
        var (image, refused) = InputImageDecoder.DecodeRgb(bytes!, limits.MaxInputImageBytes, limits.MaxPixels);
        if (refused is not null)
        {
            status = refused.Status == 413 ? 413 : status;
            add("image", refused.Message);
        }
        return image;
    }

    /// <summary>Room for an image at the byte limit, base64-inflated, plus the other fields.</summary>
    private static long BodyLimit(GenerationOptions limits) => limits.MaxInputImageBytes * 4 / 3 + (1 << 20);

    /// <summary>Raises the request body limit before anything reads the body.</summary>
    private static ValueTask<object?> AllowLargeBodyAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var limit = BodyLimit(http.RequestServices.GetRequiredService<IOptions<GenerationOptions>>().Value);
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size)
            size.MaxRequestBodySize = Math.Max(size.MaxRequestBodySize ?? 0, limit);
        return next(context);
    }
}

/// <summary>A request of POST /v1/preprocess.</summary>
/// <param name="Preprocessor">canny, scribble, lineart, color, shuffle, invert or none.</param>
/// <param name="Image">Base64 PNG or JPEG (a data: URI prefix is allowed); in a multipart request a file part.</param>
/// <param name="Width">Output width; with <paramref name="Height"/> the image is first resized by <paramref name="ResizeMode"/>.</param>
/// <param name="Height">Output height; sent with <paramref name="Width"/>.</param>
/// <param name="ResizeMode">resize (stretch), crop (cover, centre-crop; the default) or fill (fit, pad with the border's median colour).</param>
/// <param name="LowThreshold">canny, scribble: lower hysteresis threshold on the L1 Sobel magnitude (0 … 2040, default 100).</param>
/// <param name="HighThreshold">canny, scribble: upper threshold (default 200), at least low_threshold.</param>
/// <param name="BlurSigma">canny, scribble: Gaussian smoothing before the Sobel in pixels (0 … 16, default 0 as cv2.Canny).</param>
/// <param name="Seed">shuffle: the warp's seed (default 0); the same seed gives the same map.</param>
public sealed record PreprocessRequest(
    string? Preprocessor,
    string? Image = null,
    int? Width = null,
    int? Height = null,
    string? ResizeMode = null,
    double? LowThreshold = null,
    double? HighThreshold = null,
    double? BlurSigma = null,
    long? Seed = null);
