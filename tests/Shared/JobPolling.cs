using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;

namespace Easel.Testing;

/// <summary>Polls GET /v1/jobs/{id} until the job reaches a final status.</summary>
public static class JobPolling
{
    public static async Task<JsonElement> UntilFinishedAsync(HttpClient client, string location, TimeSpan deadline)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var job = await client.GetFromJsonAsync<JsonElement>(location);
            if (job.GetProperty("status").GetString() is "succeeded" or "failed" or "canceled")
                return job;
            if (clock.Elapsed > deadline)
                throw new TimeoutException($"The job did not finish within {deadline}: {job}");
            await Task.Delay(100);
        }
    }
}
