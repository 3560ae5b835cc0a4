using Easel.Core.Editing;
using Easel.Core.Generation;
using Easel.Core.Jobs;

namespace Easel.Workers.Tests;

/// <summary>Edit jobs go where their work runs: Imagic's training to the model's train queue, every other edit (and an Imagic render) to its generation band.</summary>
public sealed class EditQueueTests
{
    private static Job Edit(ImagicUse? imagic, int priority = 0)
    {
        var edit = new EditParameters(imagic is null ? EditMethods.Blended : EditMethods.Imagic, "a blue circle", "", "easel-shapes", 64, 64, 20, 7.5, 1,
            "ddim", 1, imagic is null ? 1.0 : null, new StoredInputImage("blob", 64, 64), null, imagic is null ? "pixel_blend" : null, Imagic: imagic);
        var job = Job.Create(JobKind.Edit, edit, DateTimeOffset.UnixEpoch);
        job.Priority = priority;
        return job;
    }

    private static readonly ImagicUse Training = new([0.7], 200, 300, 1e-2, 1e-4);

    [Fact]
    public void Imagic_training_goes_to_the_models_train_queue_also_when_delivered_again()
    {
        Assert.Equal("train_easel_shapes", WorkerQueues.ForJob(Edit(Training)));
        Assert.Equal("train_easel_shapes", WorkerQueues.ForRedelivery(Edit(Training)));
    }

    [Fact]
    public void An_imagic_render_and_other_edits_go_to_the_generation_band_of_their_priority()
    {
        Assert.Equal("gpu_2_normal_easel_shapes", WorkerQueues.ForJob(Edit(Training with { Session = Guid.NewGuid() })));
        Assert.Equal("gpu_1_high_easel_shapes", WorkerQueues.ForJob(Edit(null, priority: 5)));
        Assert.Equal("gpu_0_redelivery_easel_shapes", WorkerQueues.ForRedelivery(Edit(null)));
    }
}
