using Easel.Inference.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Tests.Training;

public sealed class TrainingLoopTests : IDisposable
{
    private readonly string _checkpoints = Path.Combine(Path.GetTempPath(), $"easel-training-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(_checkpoints))
            Directory.Delete(_checkpoints, recursive: true);
    }

    /// <summary>y = x·w* + b* with noise, drawn from the step number alone (as every trainer must).</summary>
    private static Tensor RegressionLoss(nn.Module<Tensor, Tensor> model, int step)
    {
        var generator = new Generator((ulong)(1000 + step), CPU);
        var x = torch.randn([32, 3], generator: generator);
        var y = x.matmul(torch.tensor(new[] { 1.5f, -2f, 0.5f }).view(3, 1)) + 0.25f + 0.01f * torch.randn([32, 1], generator: generator);
        return nn.functional.mse_loss(model.call(x), y);
    }

    /// <summary>
    /// The same starting weights every time, set explicitly: torch's global generator is shared with the test classes that
    /// run in parallel (every model they build draws its initial weights from it), so a seed set here would not hold.
    /// </summary>
    private static nn.Module<Tensor, Tensor> NewModel()
    {
        var model = nn.Linear(3, 1);
        using (torch.no_grad())
        {
            model.weight!.copy_(torch.tensor(new[] { 0.3f, -0.1f, 0.2f }).view(1, 3));
            model.bias!.fill_(-0.05f);
        }
        return model;
    }

    private TrainingLoop NewLoop(nn.Module model, int totalSteps) =>
        new("fit", [new TrainableModule("linear", model)], new OptimizerSettings { LearningRate = 0.05, WarmupSteps = 5 }, totalSteps,
            _checkpoints, emaDecay: 0.9) { CheckpointEvery = 10 };

    [Fact]
    public void Loop_fits_a_linear_regression()
    {
        using var model = NewModel();
        using var loop = NewLoop(model, 200);
        var before = RegressionLoss(model, 9999).item<float>();
        loop.Run(step => RegressionLoss(model, step));
        var after = RegressionLoss(model, 9999).item<float>();
        Assert.True(after < before / 100, $"loss {before} → {after}");
        Assert.True(loop.IsComplete);
    }

    [Fact]
    public void Run_interrupted_and_resumed_from_its_checkpoint_ends_bit_identical_to_an_uninterrupted_run()
    {
        using var straight = NewModel();
        using (var loop = new TrainingLoop("fit", [new TrainableModule("linear", straight)], new OptimizerSettings { LearningRate = 0.05, WarmupSteps = 5 },
                   40, checkpointRoot: null, emaDecay: 0.9))
            loop.Run(step => RegressionLoss(straight, step));

        using var cancel = new CancellationTokenSource();
        using (var first = NewModel())
        using (var loop = NewLoop(first, 40))
        {
            Assert.Throws<OperationCanceledException>(() => loop.Run(step =>
            {
                if (step == 25)
                    cancel.Cancel(); // the process dies after step 25; the last checkpoint is step 20
                return RegressionLoss(first, step);
            }, cancellationToken: cancel.Token));
        }

        using var resumed = NewModel();
        using (var loop = NewLoop(resumed, 40))
        {
            Assert.True(loop.TryResume());
            Assert.Equal(20, loop.Step);
            loop.Run(step => RegressionLoss(resumed, step));
        }
        Assert.True(straight.parameters().First().eq(resumed.parameters().First()).all().item<bool>());
        Assert.True(straight.parameters().Last().eq(resumed.parameters().Last()).all().item<bool>());
    }

    [Fact]
    public void Run_stopped_after_a_step_follows_the_full_schedule_up_to_it_and_checkpoints_there()
    {
        using var cancel = new CancellationTokenSource();
        using var full = NewModel();
        using (var loop = new TrainingLoop("fit", [new TrainableModule("linear", full)], new OptimizerSettings { LearningRate = 0.05, WarmupSteps = 5 },
                   40, checkpointRoot: null, emaDecay: 0.9))
        {
            Assert.Throws<OperationCanceledException>(() => loop.Run(step =>
            {
                if (step == 14)
                    cancel.Cancel(); // the next step is not run: 15 steps of the 40-step schedule
                return RegressionLoss(full, step);
            }, cancellationToken: cancel.Token));
        }

        using var stopped = NewModel();
        using (var loop = new TrainingLoop("fit", [new TrainableModule("linear", stopped)], new OptimizerSettings { LearningRate = 0.05, WarmupSteps = 5 },
                   40, _checkpoints, emaDecay: 0.9) { CheckpointEvery = 10, StopAfter = 15 })
        {
            loop.Run(step => RegressionLoss(stopped, step));
            Assert.Equal(15, loop.Step);
            Assert.False(loop.IsComplete);
        }
        Assert.True(full.parameters().First().eq(stopped.parameters().First()).all().item<bool>());

        using var resumed = NewModel();
        using var again = NewLoop(resumed, 40);
        Assert.True(again.TryResume());
        Assert.Equal(15, again.Step);
        Assert.True(resumed.parameters().First().eq(stopped.parameters().First()).all().item<bool>());
    }

    [Fact]
    public void Ema_lags_behind_the_trained_weights()
    {
        using var model = NewModel();
        using var loop = NewLoop(model, 30);
        loop.Run(step => RegressionLoss(model, step));
        using var averaged = NewModel();
        loop.EmaOf("linear")!.CopyTo(averaged);
        var trained = RegressionLoss(model, 9999).item<float>();
        var ema = RegressionLoss(averaged, 9999).item<float>();
        Assert.False(model.parameters().First().eq(averaged.parameters().First()).all().item<bool>());
        Assert.True(ema > trained, $"EMA loss {ema} vs trained {trained} after 30 steps of a fast descent");
    }

    [Fact]
    public void Learning_rate_warms_up_linearly_then_decays_by_cosine_to_its_floor()
    {
        var settings = new OptimizerSettings { LearningRate = 1e-3, WarmupSteps = 10, FinalLearningRateFraction = 0.1 };
        Assert.Equal(1e-4, settings.LearningRateAt(0, 110), 12);
        Assert.Equal(1e-3, settings.LearningRateAt(9, 110), 12);
        Assert.Equal(0.55e-3, settings.LearningRateAt(60, 110), 12);
        Assert.Equal(1e-4, settings.LearningRateAt(110, 110), 12);
    }

    [Fact]
    public void Module_learning_rate_scale_sets_its_step_size_and_survives_a_resume()
    {
        // Two copies of one linear model share a loss; the second learns at a tenth of the rate, the third not at all.
        using var fast = NewModel();
        using var slow = NewModel();
        using var frozen = NewModel();
        var start = slow.parameters().First().detach().clone();
        Tensor SharedLoss(int step) => RegressionLoss(fast, step) + RegressionLoss(slow, step) + RegressionLoss(frozen, step);
        TrainingLoop Loop(int steps) => new("scaled", [new("fast", fast), new("slow", slow, 0.1), new("frozen", frozen, 0.0)],
            new OptimizerSettings { LearningRate = 0.01, WarmupSteps = 1 }, steps, _checkpoints) { CheckpointEvery = 1 };

        using (var loop = Loop(1))
            loop.Run(SharedLoss);
        var fastStep = (fast.parameters().First() - start).abs();
        var slowStep = (slow.parameters().First() - start).abs();

        // Adam's first step moves every weight by about the learning rate, whatever its gradient.
        Assert.True(fastStep.allclose(torch.full_like(fastStep, 0.01), rtol: 0.01));
        Assert.True(slowStep.allclose(torch.full_like(slowStep, 0.001), rtol: 0.01));
        Assert.True(frozen.parameters().First().eq(start).all().item<bool>());
        using (var resumed = Loop(2))
        {
            Assert.True(resumed.TryResume());
            resumed.Run(SharedLoss);
        }
        Assert.True(frozen.parameters().First().eq(start).all().item<bool>());
        Assert.False(slow.parameters().First().eq(fast.parameters().First()).all().item<bool>());
    }

    [Fact]
    public void Finished_phase_resumes_its_weights_under_other_learning_rate_scales()
    {
        using var first = NewModel();
        using var second = NewModel();
        TrainingLoop Loop(double secondScale) => new("fit", [new("first", first), new("second", second, secondScale)],
            new OptimizerSettings { LearningRate = 0.05, WarmupSteps = 5 }, 10, _checkpoints);
        using (var loop = Loop(1.0)) // one parameter group
            loop.Run(step => RegressionLoss(first, step) + RegressionLoss(second, step));
        var trained = first.parameters().First().detach().clone();
        using (var noGrad = torch.no_grad())
            first.parameters().First().zero_();

        using var resumed = Loop(0.1); // two parameter groups

        Assert.True(resumed.TryResume());
        Assert.True(resumed.IsComplete);
        Assert.True(first.parameters().First().eq(trained).all().item<bool>());
    }

    [Fact]
    public void Loop_refuses_modules_without_trainable_parameters()
    {
        using var model = NewModel();
        foreach (var p in model.parameters())
            p.requires_grad = false;
        Assert.Throws<ArgumentException>(() => NewLoop(model, 10));
    }
}

public sealed class TimestepEmphasisTests
{
    private static Tensor Uniform() => torch.randint(0, 1000, [4000], dtype: int64, generator: new Generator(3, CPU));

    [Fact]
    public void Full_share_draws_every_timestep_from_the_range()
    {
        var timesteps = new TimestepEmphasis(1.0, 700, 1000).Apply(Uniform(), new Generator(4, CPU));
        Assert.True(timesteps.min().item<long>() >= 700);
        Assert.True(timesteps.max().item<long>() < 1000);
    }

    [Fact]
    public void Share_sets_the_fraction_of_timesteps_in_the_range()
    {
        // 0.6 of the batch below 400 plus 0.4 × 0.4 of the untouched uniform draws: 0.76.
        var timesteps = new TimestepEmphasis(0.6, 0, 400).Apply(Uniform(), new Generator(4, CPU));
        var below = (timesteps < 400).to_type(float32).mean().item<float>();
        Assert.InRange(below, 0.73, 0.79);
        Assert.True(timesteps.max().item<long>() >= 900, "the rest still covers the noisiest timesteps");
    }

    [Fact]
    public void Same_generator_seed_gives_the_same_timesteps()
    {
        var emphasis = new TimestepEmphasis(0.5, 0, 300);
        Assert.True(emphasis.Apply(Uniform(), new Generator(9, CPU)).eq(emphasis.Apply(Uniform(), new Generator(9, CPU))).all().item<bool>());
    }
}
