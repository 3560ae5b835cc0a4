using Easel.Api.Auth;
using Easel.Core.Jobs;
using Easel.Core.Data;
using Easel.Core.Storage;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Net.Http.Headers;

namespace Easel.Api.Apis;

public static class ImageApi
{
    public static string PathOf(Guid id) => ResourcePaths.Image(id);

    public static IEndpointRouteBuilder MapImageEndpoints(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("v1/images").WithTags("Images");

        api.MapGet("{id:guid}", GetImage)
            .WithName("GetImage")
            .WithSummary("Download an image")
            .WithDescription("The PNG bytes. Images never change: the ETag is the SHA-256 of the bytes and the response may be "
                + "cached forever (Cache-Control: immutable); If-None-Match answers 304.")
            .Produces<Stream>(StatusCodes.Status200OK, "image/png")
            .Produces(StatusCodes.Status304NotModified)
            .ProducesProblem(StatusCodes.Status404NotFound);

        return app;
    }

    public static async Task<Results<FileStreamHttpResult, ProblemHttpResult>> GetImage(
        Guid id, EaselDbContext db, IBlobStore blobs, HttpContext context, ILogger<ImageServices> logger, CancellationToken cancellationToken)
    {
        // An image belongs to the owner of its job; another key's image is not found, like an unknown id.
        var owner = context.GetOwner();
        var image = await db.Images.AsNoTracking()
            .SingleOrDefaultAsync(i => i.Id == id && db.Jobs.Any(j => j.Id == i.JobId && j.Owner == owner), cancellationToken);
        if (image is null)
            return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Image not found", detail: $"No image has id {id}.");
        var stream = blobs.OpenRead(image.BlobKey);
        if (stream is null)
        {
            logger.LogError("Image {ImageId} points at blob {BlobKey}, which the blob store does not have", id, image.BlobKey);
            return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Image not found",
                detail: $"The bytes of image {id} are no longer stored.");
        }
        context.Response.Headers.CacheControl = "public, max-age=31536000, immutable";
        return TypedResults.Stream(stream, image.ContentType, lastModified: image.CreatedAt,
            entityTag: new EntityTagHeaderValue($"\"{image.Sha256}\""), enableRangeProcessing: true);
    }
}

/// <summary>Log category of the image endpoints.</summary>
public sealed class ImageServices;
