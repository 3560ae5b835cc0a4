using Easel.Core.Data;
using Easel.Core.Jobs;
using Microsoft.EntityFrameworkCore;

namespace Easel.Core.Artifacts;

/// <summary>Fills <see cref="Job.Artifacts"/> of finished jobs from the artifacts table (also deleted artifacts: the job made them).</summary>
public static class JobArtifacts
{
    public static async Task FillAsync(EaselDbContext db, IReadOnlyList<Job> jobs, CancellationToken cancellationToken)
    {
        var ids = jobs.Where(j => j.Kind != JobKind.Generation && j.Status == JobStatus.Succeeded).Select(j => (Guid?)j.Id).ToList();
        if (ids.Count == 0)
            return;
        var artifacts = await db.Artifacts.AsNoTracking().Where(a => ids.Contains(a.JobId)).OrderBy(a => a.Id).ToListAsync(cancellationToken);
        foreach (var job in jobs)
            job.Artifacts = [.. artifacts.Where(a => a.JobId == job.Id).Select(ArtifactSummary.From)];
    }
}
