using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using Xunit;

namespace Easel.Testing;

/// <summary>Submits a job over HTTP and waits for its success; reads a finished job's images as RGB bytes.</summary>
public static class JobRuns
{
    /// <summary>POSTs <paramref name="body"/> to <paramref name="path"/>, expects 202 and the job to succeed, returns the finished job.</summary>
    public static async Task<JsonElement> SucceedAsync(HttpClient client, string path, JsonObject body, TimeSpan deadline)
    {
        var submitted = await client.PostAsync(path, new StringContent(body.ToJsonString(), System.Text.Encoding.UTF8, "application/json"));
        Assert.True(submitted.StatusCode == HttpStatusCode.Accepted, await submitted.Content.ReadAsStringAsync());
        var job = await JobPolling.UntilFinishedAsync(client, submitted.Headers.Location!.OriginalString, deadline);
        Assert.True(job.GetProperty("status").GetString() == "succeeded", $"job ended as {job}");
        return job;
    }

    /// <summary>The decoded RGB of each image of a finished job (the PNG bytes also carry the job id in their metadata).</summary>
    public static async Task<List<byte[]>> PixelsAsync(HttpClient client, JsonElement job)
    {
        var pixels = new List<byte[]>();
        foreach (var image in job.GetProperty("images").EnumerateArray())
        {
            using var decoded = Image.Load<Rgb24>(await client.GetByteArrayAsync(image.GetProperty("url").GetString()));
            var rgb = new byte[decoded.Width * decoded.Height * 3];
            decoded.CopyPixelDataTo(rgb);
            pixels.Add(rgb);
        }
        return pixels;
    }
}
