using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using Easel.Core.Images;
using Easel.Core.Jobs;
using Easel.Core.Storage;
using Easel.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Easel.Api.Tests;

public abstract class JobApiTests<TFactory>(TFactory factory) : ApiTestBase<TFactory>(factory)
    where TFactory : EaselApiFactory
{
    [Fact]
    public async Task Valid_generation_is_accepted_with_location_and_a_queued_job_row()
    {
        var response = await PostGenerationAsync(ValidRequest());

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var job = await ReadJsonAsync(response);
        var id = job.GetProperty("id").GetGuid();
        Assert.Equal($"/v1/jobs/{id}", response.Headers.Location?.OriginalString);
        Assert.Equal("queued", job.GetProperty("status").GetString());
        Assert.Equal("generation", job.GetProperty("kind").GetString());
        Assert.Equal(42, job.GetProperty("request").GetProperty("seed").GetInt64());
        Assert.Equal("ddim", job.GetProperty("request").GetProperty("scheduler").GetString());

        var row = await Factory.WithDbAsync(db => db.Jobs.AsNoTracking().SingleAsync(j => j.Id == id));
        Assert.Equal(JobStatus.Queued, row.Status);
        Assert.Equal(JobKind.Generation, row.Kind);
        Assert.Null(row.Owner);
    }

    [Fact]
    public async Task Omitted_fields_take_the_defaults_and_a_seed_is_chosen_and_recorded()
    {
        var response = await PostGenerationAsync(new System.Text.Json.Nodes.JsonObject { ["prompt"] = "a square", ["width"] = 64, ["height"] = 64 });

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var request = (await ReadJsonAsync(response)).GetProperty("request");
        Assert.Equal("sd15", request.GetProperty("model").GetString());
        Assert.Equal("euler", request.GetProperty("scheduler").GetString());
        Assert.Equal(1, request.GetProperty("num_images").GetInt32());
        Assert.True(request.GetProperty("seed").GetInt64() >= 0);
    }

    [Fact]
    public async Task A1111_scheduler_name_is_accepted_and_normalized()
    {
        var body = ValidRequest();
        body["scheduler"] = "Euler";

        var response = await PostGenerationAsync(body);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal("euler", (await ReadJsonAsync(response)).GetProperty("request").GetProperty("scheduler").GetString());
    }

    [Fact]
    public async Task Get_job_returns_what_post_returned()
    {
        var posted = await ReadJsonAsync(await PostGenerationAsync(ValidRequest()));
        var id = posted.GetProperty("id").GetGuid();

        var response = await Client.GetAsync($"/v1/jobs/{id}");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var job = await ReadJsonAsync(response);
        Assert.Equal(id, job.GetProperty("id").GetGuid());
        Assert.Equal(posted.GetProperty("created_at").GetDateTimeOffset(), job.GetProperty("created_at").GetDateTimeOffset());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, job.GetProperty("started_at").ValueKind);
        Assert.Equal(0, job.GetProperty("progress").GetProperty("step").GetInt32());
        Assert.Empty(job.GetProperty("images").EnumerateArray());
    }

    [Fact]
    public async Task Unknown_job_is_a_404_problem()
    {
        var response = await Client.GetAsync($"/v1/jobs/{Guid.NewGuid()}");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Finished_job_lists_its_images_and_the_image_is_served_with_etag_and_immutable_caching()
    {
        var (jobId, imageId, png) = await StoreFinishedJobAsync();

        var job = await ReadJsonAsync(await Client.GetAsync($"/v1/jobs/{jobId}"));
        Assert.Equal("succeeded", job.GetProperty("status").GetString());
        var url = job.GetProperty("images")[0].GetProperty("url").GetString();
        Assert.Equal($"/v1/images/{imageId}", url);

        var response = await Client.GetAsync(url);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("image/png", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(png, await response.Content.ReadAsByteArrayAsync());
        var etag = response.Headers.ETag;
        Assert.NotNull(etag);
        Assert.Equal($"\"{Convert.ToHexStringLower(SHA256.HashData(png))}\"", etag.Tag);
        Assert.True(response.Headers.CacheControl?.Extensions.Any(e => e.Name == "immutable"), response.Headers.CacheControl?.ToString());
        Assert.Equal(TimeSpan.FromDays(365), response.Headers.CacheControl?.MaxAge);

        var conditional = new HttpRequestMessage(HttpMethod.Get, url);
        conditional.Headers.IfNoneMatch.Add(new EntityTagHeaderValue(etag.Tag));
        var notModified = await Client.SendAsync(conditional);
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
    }

    [Fact]
    public async Task Unknown_image_is_a_404_problem()
    {
        var response = await Client.GetAsync($"/v1/images/{Guid.NewGuid()}");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    /// <summary>A job finished the way a worker finishes one: bytes in the blob store, an Image row, status succeeded.</summary>
    private async Task<(Guid JobId, Guid ImageId, byte[] Png)> StoreFinishedJobAsync()
    {
        var png = Easel.Inference.Imaging.PngEncoder.Encode(
            new Easel.Inference.Pipelines.GeneratedImage(8, 8, Enumerable.Range(0, 8 * 8 * 3).Select(i => (byte)(i + Random.Shared.Next(256))).ToArray()));
        var blob = await Factory.Services.GetRequiredService<IBlobStore>().PutAsync(png);
        var now = DateTimeOffset.UtcNow;
        now = now.AddTicks(-(now.Ticks % TimeSpan.TicksPerMillisecond));
        var job = Job.Create(JobKind.Generation, new { prompt = "x" }, now);
        job.Status = JobStatus.Succeeded;
        job.StartedAt = job.FinishedAt = now;
        var image = new Image
        {
            Id = Guid.NewGuid(), JobId = job.Id, Index = 0, BlobKey = blob.Key, Sha256 = blob.Sha256, ByteSize = blob.ByteSize,
            Width = 8, Height = 8, Seed = 1, ContentType = "image/png", CreatedAt = now,
        };
        job.Images.Add(image);
        await Factory.WithDbAsync(async db =>
        {
            db.Jobs.Add(job);
            return await db.SaveChangesAsync();
        });
        return (job.Id, image.Id, png);
    }
}

public sealed class JobApiTestsOnSqlite(SqliteApiFactory factory) : JobApiTests<SqliteApiFactory>(factory);

public sealed class JobApiTestsOnPostgres(PostgresApiFactory factory) : JobApiTests<PostgresApiFactory>(factory);
