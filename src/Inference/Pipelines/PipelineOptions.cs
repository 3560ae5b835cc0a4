namespace Easel.Inference.Pipelines;

/// <summary>How a pipeline is placed: device "auto" | "cpu" | "cuda[:N]", dtype "float32" | "bfloat16" | "float16".</summary>
public sealed record PipelineOptions(string Device = "auto", string DType = "float32");
