namespace Easel.Testing;

/// <summary>Where the repository and the diffusers-parity fixtures are.</summary>
public static class TestPaths
{
    public const string FixturesVariable = "EASEL_PARITY_FIXTURES";

    /// <summary>The nearest ancestor of the test binaries that holds Easel.slnx.</summary>
    public static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Easel.slnx")))
            dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException($"No Easel.slnx above {AppContext.BaseDirectory}.");
    }

    /// <summary><c>EASEL_PARITY_FIXTURES</c>, or ../shared/fixtures/diffusers-parity beside the repository.</summary>
    public static string ParityFixtures()
    {
        var fromEnvironment = Environment.GetEnvironmentVariable(FixturesVariable);
        var root = string.IsNullOrWhiteSpace(fromEnvironment)
            ? Path.GetFullPath(Path.Combine(RepositoryRoot(), "..", "shared", "fixtures", "diffusers-parity"))
            : Path.GetFullPath(fromEnvironment);
        if (!Directory.Exists(Path.Combine(root, "models")))
            throw new InvalidOperationException($"No diffusers-parity fixtures at '{root}'. Set {FixturesVariable} to a fixture root.");
        return root;
    }

    public static string FixtureModel(string name) => Path.Combine(ParityFixtures(), "models", name);

    /// <summary>A fixture single-file checkpoint (LDM key layout) holding the weights of <see cref="FixtureModel"/> of the same name.</summary>
    public static string SingleFileCheckpoint(string name) => Path.Combine(ParityFixtures(), "single-file", name + ".safetensors");

    /// <summary>The bundled model's folder in the repository.</summary>
    public static string BundledModel => Path.Combine(RepositoryRoot(), "models", "easel-shapes");

    /// <summary>A fresh empty folder under the system temp folder.</summary>
    public static string NewTempFolder(string prefix)
    {
        var path = Path.Combine(Path.GetTempPath(), $"{prefix}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(path);
        return path;
    }
}
