using System.ComponentModel.DataAnnotations;

namespace Easel.Core.FineTunes;

/// <summary><c>Easel:FineTunes</c>: limits of fine-tune requests and the defaults of omitted fields.</summary>
public sealed class FineTuneOptions
{
    public const string Section = "Easel:FineTunes";

    /// <summary>Most optimiser steps a fine-tune may ask for.</summary>
    [Range(1, 1_000_000)]
    public int MaxSteps { get; set; } = 5000;

    [Range(1, 1_000_000)]
    public int DefaultSteps { get; set; } = 400;

    /// <summary>Most training images per fine-tune.</summary>
    [Range(1, 10_000)]
    public int MaxImages { get; set; } = 200;

    /// <summary>Largest dataset archive (zip of images and captions), in bytes.</summary>
    [Range(1, long.MaxValue)]
    public long MaxDatasetBytes { get; set; } = 256L << 20;

    /// <summary>Largest LoRA rank accepted.</summary>
    [Range(1, 1024)]
    public int MaxRank { get; set; } = 128;

    [Range(1, 256)]
    public int MaxBatchSize { get; set; } = 16;

    [Range(0, 64)]
    public int MaxValidationPrompts { get; set; } = 8;

    /// <summary>Steps between checkpoints: the work a killed worker loses at most.</summary>
    [Range(1, 100_000)]
    public int CheckpointEvery { get; set; } = 50;
}
