using System.Text.Json;
using Easel.Inference.Loading.SingleFile;

namespace Easel.Inference.Tests.Parity;

/// <summary>
/// Single-file checkpoints (original LDM key layout) listed by single-file/cases.json: each is loaded through
/// <see cref="SingleFileCheckpoint"/> with the folder named by <c>same_weights_as</c> as the base config, and every
/// text_encoder / unet / vae case of that folder must reproduce its goldens with the same assertions as the
/// diffusers-folder parity tests.
/// </summary>
[Trait("Category", "Parity")]
public sealed class SingleFileParityTests
{
    private static readonly string[] ComponentKinds = ["text_encoder", "unet", "vae"];

    /// <summary>(checkpoint name, case name) pairs, discovered from single-file/cases.json and the case JSONs.</summary>
    public static TheoryData<string, string> Cases
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (var checkpoint in SingleFileFixtures.Checkpoints)
            {
                foreach (var info in ParityFixtures.Cases.Where(c => ComponentKinds.Contains(c.Kind)))
                {
                    if (SingleFileFixtures.ModelDirOf(info.Name) is { } modelDir && SingleFileFixtures.IsSameFolder(modelDir, checkpoint.SameWeightsAs))
                        data.Add(checkpoint.Name, info.Name);
                }
            }
            if (data.Count == 0)
                data.Add("(none)", "(none)");
            return data;
        }
    }

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void Component_loaded_from_single_file_matches_goldens(string checkpointName, string caseName)
    {
        Skip.If(checkpointName == "(none)", "The fixture set has no single-file checkpoints (single-file/cases.json) or no component case uses their folders.");
        var checkpoint = SingleFileFixtures.Checkpoints.Single(c => c.Name == checkpointName);
        var baseConfig = ParityFixtures.PathOf(checkpoint.SameWeightsAs);
        using var single = SingleFileCheckpoint.Open(checkpoint.FullPath);
        if (checkpoint.ExpectedKeys is { } keys)
            Assert.Equal(keys, single.Shapes.Count);
        using var parity = ParityFixtures.Load(caseName);
        var tolerance = Tolerance.For(parity.Info.Kind);
        switch (parity.Info.Kind)
        {
            case "unet":
            {
                using var unet = single.LoadUNet(baseConfig);
                UNetParityTests.AssertNoisePredictions(parity, unet);
                break;
            }
            case "vae":
            {
                using var vae = single.LoadVae(baseConfig);
                VaeParityTests.AssertEncodeDecode(parity, vae);
                break;
            }
            case "text_encoder" when parity.Has("out.last_hidden_state"):
            {
                using var model = single.LoadTextEncoder(baseConfig);
                TextEncoderParityTests.AssertSingleEncoder(parity, tolerance, model);
                break;
            }
            case "text_encoder" when parity.Has("out.te1_last_hidden_state"):
            {
                using var encoder1 = single.LoadTextEncoder(baseConfig);
                using var encoder2 = single.LoadTextEncoder2(baseConfig);
                TextEncoderParityTests.AssertDualEncoders(parity, tolerance, encoder1, encoder2);
                break;
            }
            default:
                throw new SkipException($"{caseName}: no known output layout for kind {parity.Info.Kind}.");
        }
    }
}

/// <summary>single-file/cases.json of the fixture set: checkpoint name, file, key count and the folder with the same weights.</summary>
public static class SingleFileFixtures
{
    private static readonly Lazy<IReadOnlyList<SingleFileFixture>> LazyCheckpoints = new(Read);

    public static IReadOnlyList<SingleFileFixture> Checkpoints => LazyCheckpoints.Value;

    /// <summary>The checkpoint names as theory data; "(none)" when the set has no single files, which <see cref="Named"/> skips.</summary>
    public static TheoryData<string> Names
    {
        get
        {
            var data = new TheoryData<string>();
            foreach (var c in Checkpoints)
                data.Add(c.Name);
            if (data.Count == 0)
                data.Add("(none)");
            return data;
        }
    }

    /// <summary>The checkpoint of a <see cref="Names"/> entry.</summary>
    public static SingleFileFixture Named(string name)
    {
        Skip.If(name == "(none)", "The fixture set has no single-file/cases.json.");
        return Checkpoints.Single(c => c.Name == name);
    }

    /// <summary>The model_dir of a case (null when it has none or names several).</summary>
    public static string? ModelDirOf(string caseName)
    {
        using var json = JsonDocument.Parse(File.ReadAllText(ParityFixtures.PathOf(Path.Combine("cases", caseName + ".json"))));
        return json.RootElement.TryGetProperty("model_dir", out var dir) && dir.ValueKind == JsonValueKind.String && !dir.GetString()!.Contains('+')
            ? dir.GetString()!.Trim()
            : null;
    }

    /// <summary>Whether <paramref name="modelDir"/> is <paramref name="folder"/> or one of its component folders.</summary>
    public static bool IsSameFolder(string modelDir, string folder)
    {
        var a = modelDir.Replace('\\', '/').TrimEnd('/');
        var b = folder.Replace('\\', '/').TrimEnd('/');
        return a == b || a.StartsWith(b + "/", StringComparison.Ordinal);
    }

    private static IReadOnlyList<SingleFileFixture> Read()
    {
        var path = ParityFixtures.PathOf(Path.Combine("single-file", "cases.json"));
        if (!File.Exists(path))
            return [];
        using var json = JsonDocument.Parse(File.ReadAllText(path));
        return json.RootElement.EnumerateObject().Select(p => new SingleFileFixture(
                p.Name,
                p.Value.GetProperty("file").GetString()!,
                p.Value.GetProperty("same_weights_as").GetString()!,
                p.Value.TryGetProperty("keys", out var keys) && keys.ValueKind == JsonValueKind.Number ? keys.GetInt32() : null))
            .ToList();
    }
}

public sealed record SingleFileFixture(string Name, string File, string SameWeightsAs, int? ExpectedKeys)
{
    /// <summary>The checkpoint's path: "file" is relative to the fixture root ("single-file/sd15.safetensors"), or else to single-file/.</summary>
    public string FullPath
    {
        get
        {
            var fromRoot = ParityFixtures.PathOf(File);
            return System.IO.File.Exists(fromRoot) ? fromRoot : ParityFixtures.PathOf(Path.Combine("single-file", File));
        }
    }
}
