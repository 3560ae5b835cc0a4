using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics;

namespace Easel.Api.Extensions;

/// <summary>
/// Turns a body that is not valid JSON for the endpoint (a string where a number belongs, a truncated document) into
/// a 400 validation problem naming the field, instead of a bare 400. Other exceptions go on to the default 500.
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
        var details = field is null
            ? new Microsoft.AspNetCore.Mvc.ProblemDetails
            {
                Status = badRequest.StatusCode,
                Title = "The request could not be read.",
                Detail = json is null ? badRequest.Message : "The body is not valid JSON.",
            }
            : new HttpValidationProblemDetails(new Dictionary<string, string[]>
            {
                [field] = [$"The value of {field} has the wrong type or format."],
            })
            {
                Status = badRequest.StatusCode,
                Title = "The request body is invalid.",
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
