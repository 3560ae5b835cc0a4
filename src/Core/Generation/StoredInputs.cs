using Easel.Core.Data;
using Microsoft.EntityFrameworkCore;

namespace Easel.Core.Generation;

/// <summary>The input images, masks and control images generation jobs stored (<c>image.blob</c>, <c>mask.blob</c>, <c>controlnets[].image.blob</c>, <c>adapters[].image.blob</c>).</summary>
public static class StoredInputs
{
    /// <summary>
    /// Whether a job of <paramref name="owner"/> (null: the jobs without owner, authentication off) stored the input
    /// <paramref name="blob"/>: a request may refer to a stored input only then, so that a blob key never reads another
    /// caller's images. JSON paths are provider SQL, as in retention (jsonb in PostgreSQL, json_extract in SQLite).
    /// </summary>
    public static async Task<bool> IsInputOfAsync(EaselDbContext db, string blob, string? owner, CancellationToken cancellationToken)
    {
        var matches = db is PostgresEaselDbContext
            ? db.Database.SqlQuery<int>($"""
                SELECT 1 AS "Value" FROM jobs
                WHERE owner IS NOT DISTINCT FROM {owner} AND (request->'image'->>'blob' = {blob} OR request->'mask'->>'blob' = {blob}
                    OR EXISTS (SELECT 1 FROM jsonb_array_elements(CASE jsonb_typeof(request->'controlnets') WHEN 'array' THEN request->'controlnets' ELSE '[]'::jsonb END) AS unit
                               WHERE unit->'image'->>'blob' = {blob})
                    OR EXISTS (SELECT 1 FROM jsonb_array_elements(CASE jsonb_typeof(request->'adapters') WHEN 'array' THEN request->'adapters' ELSE '[]'::jsonb END) AS unit
                               WHERE unit->'image'->>'blob' = {blob}))
                """)
            : db.Database.SqlQuery<int>($"""
                SELECT 1 AS "Value" FROM jobs
                WHERE owner IS {owner} AND (json_extract(request, '$.image.blob') = {blob} OR json_extract(request, '$.mask.blob') = {blob}
                    OR EXISTS (SELECT 1 FROM json_each(jobs.request, '$.controlnets') AS unit WHERE json_extract(unit.value, '$.image.blob') = {blob})
                    OR EXISTS (SELECT 1 FROM json_each(jobs.request, '$.adapters') AS unit WHERE json_extract(unit.value, '$.image.blob') = {blob}))
                """);
        return await matches.AnyAsync(cancellationToken);
    }
}
