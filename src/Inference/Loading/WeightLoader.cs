using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Loading;

/// <summary>
/// Copies checkpoint tensors into a module's parameters and buffers by name, strictly: every
/// parameter must be present with the right shape and no checkpoint key may be left over,
/// otherwise the error names the missing, unexpected and mismatched keys.
/// </summary>
public static class WeightLoader
{
    /// <summary>
    /// Loads <paramref name="files"/> (one file, or the shards of one component) into <paramref name="module"/>.
    /// Each tensor is read, converted to the parameter's dtype and device, copied in place and released,
    /// so peak memory is the model plus one tensor.
    /// </summary>
    /// <param name="rename">Optional mapping from checkpoint key to module key (null drops the key).</param>
    /// <param name="ignore">Checkpoint keys that are known to be unused (for example position_ids buffers).</param>
    public static void LoadInto(nn.Module module, IReadOnlyList<SafeTensorsFile> files, string component,
        Func<string, string?>? rename = null, Func<string, bool>? ignore = null) =>
        LoadInto(module, new SafeTensorsWeightSource(files, component, rename, ignore));

    /// <summary>
    /// Loads every tensor of <paramref name="source"/> into <paramref name="module"/>, strictly: each stored tensor is
    /// read once, transformed (slice/reshape/transpose views), copied in place into its target parameter(s) with
    /// dtype/device conversion and released, so peak memory is the model plus one stored tensor. Fails naming the
    /// missing parameters, the stored keys that fill nothing, and shape mismatches.
    /// </summary>
    public static void LoadInto(nn.Module module, IWeightSource source)
    {
        var targets = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, parameter) in module.named_parameters())
            targets[name] = parameter;
        foreach (var (name, buffer) in module.named_buffers())
            targets[name] = buffer;

        var loaded = new HashSet<string>(StringComparer.Ordinal);
        var unexpected = new List<string>();
        var mismatched = new List<string>();
        using (torch.no_grad())
        {
            foreach (var stored in source.Tensors())
            {
                if (stored.Targets.Count == 0)
                {
                    unexpected.Add(stored.Key);
                    continue;
                }
                var fits = true;
                foreach (var target in stored.Targets)
                {
                    if (!targets.TryGetValue(target.Key, out var destination))
                    {
                        unexpected.Add(target.Key == stored.Key ? stored.Key : $"{stored.Key} (as {target.Key})");
                        fits = false;
                    }
                    else if (!target.Shape.SequenceEqual(destination.shape))
                    {
                        var renamed = target.Key == stored.Key ? "" : $" (as {target.Key})";
                        mismatched.Add($"{stored.Key}{renamed}: checkpoint [{string.Join(", ", target.Shape)}] vs model [{string.Join(", ", destination.shape)}]");
                        fits = false;
                    }
                }
                if (!fits)
                    continue;
                using var tensor = stored.Read();
                foreach (var target in stored.Targets)
                {
                    var destination = targets[target.Key];
                    if (target.Transform is null)
                    {
                        destination.copy_(tensor);
                    }
                    else
                    {
                        using var transformed = target.Transform(tensor);
                        if (!transformed.shape.SequenceEqual(destination.shape))
                            throw new InvalidOperationException($"{source.Component}: converting '{stored.Key}' to '{target.Key}' produced [{string.Join(", ", transformed.shape)}], expected [{string.Join(", ", destination.shape)}].");
                        destination.copy_(transformed);
                    }
                    loaded.Add(target.Key);
                }
            }
        }

        var missing = targets.Keys.Where(k => !loaded.Contains(k) && !IsNonPersistent(module, k)).OrderBy(k => k, StringComparer.Ordinal).ToList();
        if (missing.Count > 0 || unexpected.Count > 0 || mismatched.Count > 0)
            throw new CheckpointMismatchException(source.Component, missing, unexpected, mismatched);
    }

    /// <summary>
    /// Loads <paramref name="weights"/> strictly into a model just built on the CPU, then moves it to
    /// <paramref name="device"/>/<paramref name="dtype"/> in eval mode; the model is disposed when either step fails.
    /// </summary>
    public static T LoadNew<T>(T model, IWeightSource weights, Device? device, ScalarType dtype) where T : nn.Module
    {
        try
        {
            LoadInto(model, weights);
            Finish(model, device, dtype);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Moves a freshly loaded model to <paramref name="dtype"/>/<paramref name="device"/> and switches it to eval mode.</summary>
    internal static void Finish(nn.Module module, Device? device, ScalarType dtype)
    {
        module.to(dtype);
        if (device is not null)
            module.to(device);
        module.eval();
    }

    private static bool IsNonPersistent(nn.Module module, string key) =>
        module is INonPersistentBuffers nonPersistent && nonPersistent.NonPersistentBuffers.Contains(key);
}

/// <summary>Implemented by modules that own buffers computed at construction rather than loaded.</summary>
public interface INonPersistentBuffers
{
    IReadOnlySet<string> NonPersistentBuffers { get; }
}

/// <summary>A checkpoint does not fit the model built from its config.</summary>
public sealed class CheckpointMismatchException(string component, IReadOnlyList<string> missing, IReadOnlyList<string> unexpected, IReadOnlyList<string> mismatched)
    : Exception(Describe(component, missing, unexpected, mismatched))
{
    public IReadOnlyList<string> Missing { get; } = missing;
    public IReadOnlyList<string> Unexpected { get; } = unexpected;
    public IReadOnlyList<string> ShapeMismatches { get; } = mismatched;

    private static string Describe(string component, IReadOnlyList<string> missing, IReadOnlyList<string> unexpected, IReadOnlyList<string> mismatched)
    {
        static string List(IReadOnlyList<string> keys) =>
            string.Join(", ", keys.Take(20)) + (keys.Count > 20 ? $", … ({keys.Count - 20} more)" : "");
        var parts = new List<string>();
        if (missing.Count > 0) parts.Add($"{missing.Count} missing key(s): {List(missing)}");
        if (unexpected.Count > 0) parts.Add($"{unexpected.Count} unexpected key(s): {List(unexpected)}");
        if (mismatched.Count > 0) parts.Add($"{mismatched.Count} shape mismatch(es): {List(mismatched)}");
        return $"The {component} checkpoint does not match its config: {string.Join("; ", parts)}.";
    }
}
