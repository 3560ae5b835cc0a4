using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics;

namespace Easel.Api.Extensions;

/// <summary>
/// Turns a request the framework could not read (a parameter it could not bind, a body over the server's limit or cut
/// short) into a validation problem with <c>errors</c> naming the field, or <c>body</c> / <c>Content-Type</c>, instead of
/// a bare status. Request bodies themselves are read by <see cref="StrictRequestBody"/>. Other exceptions go on to the
/// default 500.
/// </summary>
public sealed class RequestBodyExceptionHandler(IProblemDetailsService problems) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not BadHttpRequestException badRequest)
            return false;
        context.Response.StatusCode = badRequest.StatusCode;
        var json = FindJsonException(exception);
        var field = json?.Path is { Length: > 2 } path && path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : null;
        var (key, message) = field is not null ? (field, $"The value of {field} has the wrong type or format.")
            : badRequest.StatusCode == StatusCodes.Status415UnsupportedMediaType ? (StrictRequestBody.ContentTypeKey, badRequest.Message)
            : (StrictRequestBody.BodyKey, json is null ? badRequest.Message : "The body is not valid JSON.");
        var details = new HttpValidationProblemDetails(new Dictionary<string, string[]> { [key] = [message] })
        {
            Status = badRequest.StatusCode,
            Title = "The request could not be read.",
        };
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails = details,
            Exception = exception,
        });
    }

    private static JsonException? FindJsonException(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
            if (e is JsonException json)
                return json;
        return null;
    }
}
