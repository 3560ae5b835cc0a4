using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Easel.Core.Jobs;
using Easel.Testing;
using Microsoft.EntityFrameworkCore;

namespace Easel.Api.Tests;

public abstract class IdempotencyKeyTests<TFactory>(TFactory factory) : ApiTestBase<TFactory>(factory)
    where TFactory : EaselApiFactory
{
    private Task<HttpResponseMessage> PostAsync(JsonNode body, string key)
    {
        var message = new HttpRequestMessage(HttpMethod.Post, "/v1/generations")
        {
            Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"),
        };
        message.Headers.Add("Idempotency-Key", key);
        return Client.SendAsync(message);
    }

    [Fact]
    public async Task Repeat_with_the_same_key_and_body_returns_the_original_job_and_stores_one_row()
    {
        var key = Guid.NewGuid().ToString();
        var jobsBefore = await Factory.CountJobsAsync();

        var first = await PostAsync(ValidRequest(), key);
        var second = await PostAsync(ValidRequest(), key);

        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.False(first.Headers.Contains("Idempotent-Replayed"));
        Assert.Equal("true", second.Headers.GetValues("Idempotent-Replayed").Single());
        var id = (await ReadJsonAsync(first)).GetProperty("id").GetGuid();
        Assert.Equal(id, (await ReadJsonAsync(second)).GetProperty("id").GetGuid());
        Assert.Equal($"/v1/jobs/{id}", second.Headers.Location?.OriginalString);
        Assert.Equal(jobsBefore + 1, await Factory.CountJobsAsync());
        var record = await Factory.WithDbAsync(db => db.IdempotencyRecords.AsNoTracking().SingleAsync(r => r.Key == key));
        Assert.Equal(("", id), (record.Owner, record.JobId));
    }

    [Fact]
    public async Task Same_key_with_another_body_is_a_422_problem_and_stores_nothing()
    {
        var key = Guid.NewGuid().ToString();
        await PostAsync(ValidRequest(), key);
        var jobsBefore = await Factory.CountJobsAsync();
        var other = ValidRequest();
        other["seed"] = 43;

        var response = await PostAsync(other, key);

        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(jobsBefore, await Factory.CountJobsAsync());
    }

    [Fact]
    public async Task Multipart_repeat_with_the_same_bytes_is_replayed()
    {
        var key = Guid.NewGuid().ToString();
        var form = new MultipartFormDataContent("fixed-boundary")
        {
            { new StringContent("a watercolour"), "prompt" },
            { new StringContent("0.5"), "strength" },
        };
        var image = new ByteArrayContent(TestImages.Png());
        image.Headers.ContentType = new MediaTypeHeaderValue("image/png");
        form.Add(image, "image", "in.png");
        var bytes = await form.ReadAsByteArrayAsync();
        HttpRequestMessage Message()
        {
            var content = new ByteArrayContent(bytes);
            content.Headers.ContentType = form.Headers.ContentType;
            var message = new HttpRequestMessage(HttpMethod.Post, "/v1/generations") { Content = content };
            message.Headers.Add("Idempotency-Key", key);
            return message;
        }

        var first = await Client.SendAsync(Message());
        var second = await Client.SendAsync(Message());

        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal((await ReadJsonAsync(first)).GetProperty("id").GetGuid(), (await ReadJsonAsync(second)).GetProperty("id").GetGuid());
    }

    [Fact]
    public async Task Key_longer_than_255_characters_is_a_400_naming_the_header()
    {
        var response = await PostAsync(ValidRequest(), new string('k', 256));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.True((await ReadJsonAsync(response)).GetProperty("errors").TryGetProperty("Idempotency-Key", out _));
    }

    [Fact]
    public async Task Key_older_than_a_day_is_forgotten_and_deleted_by_the_cleanup()
    {
        var key = Guid.NewGuid().ToString();
        var stale = Guid.NewGuid().ToString();
        await Factory.WithDbAsync(async db =>
        {
            db.IdempotencyRecords.Add(new IdempotencyRecord
            {
                Owner = "", Key = key, RequestHash = new string('0', 64), JobId = Guid.NewGuid(), CreatedAt = DateTimeOffset.UtcNow.AddHours(-25),
            });
            db.IdempotencyRecords.Add(new IdempotencyRecord
            {
                Owner = "", Key = stale, RequestHash = new string('0', 64), JobId = Guid.NewGuid(), CreatedAt = DateTimeOffset.UtcNow.AddHours(-25),
            });
            return await db.SaveChangesAsync();
        });

        var response = await PostAsync(ValidRequest(), key);
        var deleted = await Factory.WithDbAsync(db => IdempotencyStore.DeleteExpiredAsync(db, DateTimeOffset.UtcNow));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.True(deleted >= 1);
        Assert.False(await Factory.WithDbAsync(db => db.IdempotencyRecords.AnyAsync(r => r.Key == stale)));
        var id = (await ReadJsonAsync(response)).GetProperty("id").GetGuid();
        Assert.Equal(id, (await Factory.WithDbAsync(db => db.IdempotencyRecords.SingleAsync(r => r.Key == key))).JobId);
    }

    [Fact]
    public async Task Repeated_cancel_with_the_same_key_replays_the_canceled_job()
    {
        var id = (await ReadJsonAsync(await PostGenerationAsync(ValidRequest()))).GetProperty("id").GetGuid();
        var key = Guid.NewGuid().ToString();
        HttpRequestMessage Cancel()
        {
            var message = new HttpRequestMessage(HttpMethod.Post, $"/v1/jobs/{id}/cancel");
            message.Headers.Add("Idempotency-Key", key);
            return message;
        }

        var first = await Client.SendAsync(Cancel());
        var second = await Client.SendAsync(Cancel());

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode); // without the key the second cancel would be a 409
        Assert.Equal("true", second.Headers.GetValues("Idempotent-Replayed").Single());
        Assert.Equal("canceled", (await ReadJsonAsync(second)).GetProperty("status").GetString());
    }

    [Fact]
    public async Task Concurrent_repeats_create_one_job()
    {
        var key = Guid.NewGuid().ToString();
        var jobsBefore = await Factory.CountJobsAsync();

        var responses = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => PostAsync(ValidRequest(), key)));

        Assert.Equal(jobsBefore + 1, await Factory.CountJobsAsync());
        Assert.Single(responses, r => r.StatusCode == HttpStatusCode.Accepted);
        Assert.All(responses, r => Assert.Contains(r.StatusCode, new[] { HttpStatusCode.Accepted, HttpStatusCode.OK, HttpStatusCode.Conflict }));
        var ids = new HashSet<Guid>();
        foreach (var response in responses.Where(r => r.StatusCode != HttpStatusCode.Conflict))
            ids.Add((await ReadJsonAsync(response)).GetProperty("id").GetGuid());
        Assert.Single(ids);
    }
}

public sealed class IdempotencyKeyTestsOnSqlite(SqliteApiFactory factory) : IdempotencyKeyTests<SqliteApiFactory>(factory);

public sealed class IdempotencyKeyTestsOnPostgres(PostgresApiFactory factory) : IdempotencyKeyTests<PostgresApiFactory>(factory);
