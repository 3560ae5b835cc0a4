using System.Text.Json;

namespace Easel.Inference.Tests.Parity;

/// <summary>
/// Locates the diffusers-parity fixture set: <c>EASEL_PARITY_FIXTURES</c> when set, otherwise
/// ../shared/fixtures/diffusers-parity relative to the repository root. Cases are discovered from
/// the set's manifest, never hard-coded, so another set in the same format runs unchanged.
/// </summary>
public static class ParityFixtures
{
    public const string EnvironmentVariable = "EASEL_PARITY_FIXTURES";

    private static readonly Lazy<string> LazyRoot = new(FindRoot);
    private static readonly Lazy<IReadOnlyList<ParityCaseInfo>> LazyCases = new(ReadManifest);

    public static string Root => LazyRoot.Value;

    public static IReadOnlyList<ParityCaseInfo> Cases => LazyCases.Value;

    /// <summary>Case names of one kind, as xunit theory data.</summary>
    public static TheoryData<string> CasesOfKind(string kind)
    {
        var data = new TheoryData<string>();
        foreach (var c in Cases.Where(c => c.Kind == kind))
            data.Add(c.Name);
        return data;
    }

    /// <summary>The pipeline cases of one method family ("controlnet", "t2i_adapter", …).</summary>
    public static TheoryData<string> PipelineCasesOfFamily(string family)
    {
        var data = new TheoryData<string>();
        foreach (var c in Cases.Where(c => c.Kind == "pipeline" && c.Family == family))
            data.Add(c.Name);
        return data;
    }

    /// <summary>
    /// The pipeline cases a plain pipeline runs: LoRA pipeline cases are left to <see cref="LoraParityTests"/>, which runs
    /// each of them once per LoRA file and merge mode, ControlNet ones to <see cref="ControlNetParityTests"/>, T2I-Adapter
    /// ones to <see cref="T2IAdapterParityTests"/>.
    /// </summary>
    public static TheoryData<string> PlainPipelineCases()
    {
        var data = new TheoryData<string>();
        foreach (var c in Cases.Where(IsPlainPipelineCase))
            data.Add(c.Name);
        return data;
    }

    public static bool IsPlainPipelineCase(ParityCaseInfo c) =>
        c.Kind == "pipeline" && c.Family is not ("lora" or "controlnet" or "t2i_adapter" or "gligen_text") && !IsAttendAndExcite(c);

    /// <summary>The pipeline cases run with Attend-and-Excite (their params name token_indices), left to AttendAndExciteParityTests.</summary>
    public static TheoryData<string> AttendAndExcitePipelineCases()
    {
        var data = new TheoryData<string>();
        foreach (var c in Cases.Where(c => c.Kind == "pipeline" && IsAttendAndExcite(c)))
            data.Add(c.Name);
        return data;
    }

    private static bool IsAttendAndExcite(ParityCaseInfo c)
    {
        var json = Path.Combine(Root, "cases", c.Name + ".json");
        if (!File.Exists(json))
            return false;
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        return doc.RootElement.TryGetProperty("params", out var p) && p.TryGetProperty("token_indices", out _);
    }

    public static ParityCase Load(string name) => new(Root, Cases.Single(c => c.Name == name));

    /// <summary>A path inside the fixture set.</summary>
    public static string PathOf(string relative) => Path.Combine(Root, relative);

    /// <summary>The repository root: the nearest ancestor of the test binaries that holds Easel.slnx.</summary>
    public static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Easel.slnx")))
            dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException($"No Easel.slnx above {AppContext.BaseDirectory}.");
    }

    private static string FindRoot()
    {
        var fromEnvironment = Environment.GetEnvironmentVariable(EnvironmentVariable);
        var root = string.IsNullOrWhiteSpace(fromEnvironment)
            ? Path.GetFullPath(Path.Combine(RepositoryRoot(), "..", "shared", "fixtures", "diffusers-parity"))
            : Path.GetFullPath(fromEnvironment);
        if (!File.Exists(Path.Combine(root, "manifest.json")))
            throw new InvalidOperationException($"No parity fixture manifest at '{root}'. Set {EnvironmentVariable} to a fixture root.");
        return root;
    }

    private static IReadOnlyList<ParityCaseInfo> ReadManifest()
    {
        using var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(Root, "manifest.json")));
        return manifest.RootElement.GetProperty("cases").EnumerateArray()
            .Select(c => new ParityCaseInfo(
                c.GetProperty("case").GetString()!,
                c.GetProperty("kind").GetString()!,
                c.GetProperty("family").GetString()!))
            .ToList();
    }
}

public sealed record ParityCaseInfo(string Name, string Kind, string Family);
