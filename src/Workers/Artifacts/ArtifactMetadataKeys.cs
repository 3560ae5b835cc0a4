namespace Easel.Workers.Artifacts;

/// <summary>The metadata keys the inspector writes (snake_case, shown as they are by GET /v1/artifacts/{id}).</summary>
public static class ArtifactMetadataKeys
{
    /// <summary>Whether every key was matched against the base model's weights (false: only the layout was read).</summary>
    public const string BaseModelChecked = "base_model_checked";

    public const string Rank = "rank";

    public const string Alpha = "alpha";

    public const string TargetModules = "target_modules";

    public const string Components = "components";

    public const string Tokens = "tokens";

    public const string VectorCount = "vector_count";

    public const string Width = "width";

    public const string FileMetadata = "file_metadata";
}
