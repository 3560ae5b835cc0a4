using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Easel.Tools.Fuzzing;

/// <summary>What the service answered to one case; status 0 = the connection closed without an answer.</summary>
public sealed record FuzzAnswer(int Status, string? ContentType, string Body);

/// <summary>The answers of a run, counted by case kind and status, and the cases that broke the contract.</summary>
public sealed class FuzzReport
{
    private readonly SortedDictionary<string, SortedDictionary<int, int>> _counts = new(StringComparer.Ordinal);

    public List<string> Failures { get; } = [];

    public int Accepted { get; private set; }

    public int Total { get; private set; }

    public void Add(FuzzCase fuzzCase, FuzzAnswer answer)
    {
        Total++;
        if (answer.Status is >= 200 and < 300)
            Accepted++;
        if (!_counts.TryGetValue(fuzzCase.Kind, out var byStatus))
            _counts[fuzzCase.Kind] = byStatus = [];
        byStatus[answer.Status] = byStatus.GetValueOrDefault(answer.Status) + 1;
        if (RequestFuzzer.Violation(answer) is { } violation)
            Failures.Add($"#{Total} {fuzzCase.Kind} (Content-Type {fuzzCase.ContentType ?? "none"}, {fuzzCase.Body.Length} bytes): {violation}");
    }

    /// <summary>Rows: case kinds; columns: the statuses seen ("none" = no answer); then the totals.</summary>
    public string Table()
    {
        var statuses = _counts.Values.SelectMany(s => s.Keys).Distinct().Order().ToList();
        var width = Math.Max(5, _counts.Keys.Max(k => k.Length));
        var text = new StringBuilder();
        text.Append("kind".PadRight(width));
        foreach (var status in statuses)
            text.Append((status == 0 ? "none" : status.ToString(CultureInfo.InvariantCulture)).PadLeft(6));
        text.Append("total".PadLeft(7)).Append('\n');
        foreach (var (kind, byStatus) in _counts)
        {
            text.Append(kind.PadRight(width));
            foreach (var status in statuses)
                text.Append(byStatus.GetValueOrDefault(status).ToString(CultureInfo.InvariantCulture).PadLeft(6));
            text.Append(byStatus.Values.Sum().ToString(CultureInfo.InvariantCulture).PadLeft(7)).Append('\n');
        }
        text.Append("total".PadRight(width));
        foreach (var status in statuses)
            text.Append(_counts.Values.Sum(s => s.GetValueOrDefault(status)).ToString(CultureInfo.InvariantCulture).PadLeft(6));
        text.Append(Total.ToString(CultureInfo.InvariantCulture).PadLeft(7)).Append('\n');
        return text.ToString();
    }
}

/// <summary>
/// Sends <see cref="RequestMutator"/>'s cases through a transport and checks every answer against the API's contract
/// for bodies: never a 5xx; every refusal (4xx) an application/problem+json with an <c>errors</c> object naming what
/// was wrong. Used by the <c>fuzz-requests</c> command (a real service over loopback sockets) and by the API tests (a
/// short run in memory).
/// </summary>
public static class RequestFuzzer
{
    public static async Task<FuzzReport> RunAsync(int seed, int count, Func<FuzzCase, Task<FuzzAnswer>> send)
    {
        var report = new FuzzReport();
        foreach (var fuzzCase in new RequestMutator(seed).Take(count))
            report.Add(fuzzCase, await send(fuzzCase));
        return report;
    }

    /// <summary>Why an answer breaks the contract, or null.</summary>
    public static string? Violation(FuzzAnswer answer)
    {
        if (answer.Status >= 500)
            return $"{answer.Status}: {Shorten(answer.Body)}";
        if (answer.Status is < 400 or >= 500)
            return null;
        if (answer.ContentType?.StartsWith("application/problem+json", StringComparison.OrdinalIgnoreCase) != true)
            return $"{answer.Status} is not application/problem+json ({answer.ContentType ?? "no content type"}): {Shorten(answer.Body)}";
        try
        {
            using var problem = JsonDocument.Parse(answer.Body);
            return problem.RootElement.TryGetProperty("errors", out var errors) && errors.ValueKind == JsonValueKind.Object
                                                                               && errors.EnumerateObject().Any()
                ? null
                : $"{answer.Status} problem without errors: {Shorten(answer.Body)}";
        }
        catch (JsonException)
        {
            return $"{answer.Status} problem is not JSON: {Shorten(answer.Body)}";
        }
    }

    private static string Shorten(string text) => text.Length <= 400 ? text : text[..400] + "…";
}
