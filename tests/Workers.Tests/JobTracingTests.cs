using System.Diagnostics;
using Easel.Core.Telemetry;
using Microsoft.EntityFrameworkCore;

namespace Easel.Workers.Tests;

public sealed class JobTracingTests
{
    [Fact]
    public async Task The_job_span_is_a_child_of_the_request_whose_traceparent_the_job_stored()
    {
        await using var harness = new RunnerHarness();
        var id = await harness.SubmitAsync();
        const string traceParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        await harness.WithDbAsync(db => db.Jobs.Where(j => j.Id == id).ExecuteUpdateAsync(s => s.SetProperty(j => j.TraceParent, traceParent)));
        var spans = new List<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == EaselTracing.SourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Add,
        };
        ActivitySource.AddActivityListener(listener);

        await harness.RunAsync(id);

        var job = Assert.Single(spans, s => s.OperationName == "job" && Equals(s.GetTagItem("easel.job.id"), id.ToString()));
        Assert.Equal("0af7651916cd43dd8448eb211c80319c", job.TraceId.ToHexString());
        Assert.Equal("b7ad6b7169203331", job.ParentSpanId.ToHexString());
        Assert.Equal(ActivityKind.Consumer, job.Kind);
        Assert.Equal(1, job.GetTagItem("easel.job.attempt"));
    }
}
