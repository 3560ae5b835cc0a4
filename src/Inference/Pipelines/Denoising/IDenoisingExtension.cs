namespace Easel.Inference.Pipelines.Denoising;

/// <summary>
/// A method's contribution to one request's denoising loop. An extension implements one or more of the hook
/// interfaces (<see cref="ILatentInitializer"/>, <see cref="IUNetConditioningContributor"/>,
/// <see cref="IModelInputExtension"/>, <see cref="ILatentEdit"/>, <see cref="IAttentionProcessorProvider"/>,
/// <see cref="IStepCallback"/>); several extensions compose, each hook called in the order the extensions are given.
/// </summary>
public interface IDenoisingExtension;
