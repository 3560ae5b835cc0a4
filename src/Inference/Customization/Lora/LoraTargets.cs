using Easel.Inference.Loading.SingleFile;
using Easel.Inference.Models;
using Easel.Inference.Pipelines;
using static TorchSharp.torch;

namespace Easel.Inference.Customization.Lora;

/// <summary>
/// The LoRA-capable layers of a loaded pipeline by component and module path (the paths of the models'
/// named_modules, which mirror diffusers' checkpoint keys), looked up by the names LoRA files use: the path itself,
/// kohya's flattened path, and for the UNet the LDM paths kohya's SDXL files use.
/// </summary>
internal sealed class LoraTargets
{
    private readonly Dictionary<string, ComponentTargets> _components = new(StringComparer.Ordinal);

    private LoraTargets()
    {
    }

    public static LoraTargets For(StableDiffusionPipeline pipeline)
    {
        var targets = new LoraTargets();
        var unet = targets.Add(LoraAdapter.UNet, pipeline.UNet);
        var converter = new UNetKeyConverter(pipeline.UNet.Config);
        foreach (var module in unet.Paths.ToList())
        {
            foreach (var ldm in converter.LdmModuleNames(module))
                unet.AddAlias(ldm, module);
        }
        switch (pipeline.Conditioner)
        {
            case ClipPromptConditioner clip:
                targets.Add(LoraAdapter.TextEncoder, clip.TextEncoder);
                break;
            case SdxlPromptConditioner sdxl:
                if (sdxl.TextEncoder is { } first)
                    targets.Add(LoraAdapter.TextEncoder, first);
                targets.Add(LoraAdapter.TextEncoder2, sdxl.TextEncoder2);
                break;
        }
        return targets;
    }

    /// <summary>The layer a file's (component, module) names and its path in our model, or null.</summary>
    public (string Module, LoraLayer Layer)? Find(string component, string module) =>
        _components.TryGetValue(component, out var targets) ? targets.Find(module) : null;

    private ComponentTargets Add(string component, nn.Module model)
    {
        var targets = new ComponentTargets();
        foreach (var (path, module) in model.named_modules())
        {
            if (module is LoraLayer layer)
                targets.AddLayer(path, layer);
        }
        _components[component] = targets;
        return targets;
    }

    private sealed class ComponentTargets
    {
        private readonly Dictionary<string, (string Module, LoraLayer Layer)> _byName = new(StringComparer.Ordinal);
        private readonly Dictionary<string, (string Module, LoraLayer Layer)> _byFlatName = new(StringComparer.Ordinal);
        private readonly List<string> _paths = [];

        public IEnumerable<string> Paths => _paths;

        public void AddLayer(string path, LoraLayer layer)
        {
            _paths.Add(path);
            _byName[path] = (path, layer);
            _byFlatName[Flat(path)] = (path, layer);
        }

        public void AddAlias(string alias, string path)
        {
            var target = _byName[path];
            _byName.TryAdd(alias, target);
            _byFlatName.TryAdd(Flat(alias), target);
        }

        // kohya names are flattened paths; a compound name the splitter does not know still finds its layer this way.
        public (string Module, LoraLayer Layer)? Find(string module) =>
            _byName.TryGetValue(module, out var target) || _byFlatName.TryGetValue(Flat(module), out target) ? target : null;

        private static string Flat(string path) => path.Replace('.', '_');
    }
}
