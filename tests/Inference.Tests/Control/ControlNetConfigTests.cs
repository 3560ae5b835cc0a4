using Easel.Inference.Control.ControlNet;
using Easel.Inference.Loading;

namespace Easel.Inference.Tests.Control;

/// <summary>config.json of a ControlNet: its own keys parse, and a wrong channel order is refused.</summary>
public sealed class ControlNetConfigTests
{
    [Fact]
    public void ControlNetOnlyKeysAreReadFromConfigJson()
    {
        var config = ConfigJson.Parse<ControlNetConfig>("""
            {"_class_name": "ControlNetModel", "conditioning_embedding_out_channels": [8, 16],
             "global_pool_conditions": true, "controlnet_conditioning_channel_order": "bgr",
             "addition_embed_type": "text_time", "projection_class_embeddings_input_dim": 80}
            """);
        Assert.Equal("ControlNetModel", config.ClassName);
        Assert.Equal([8, 16], config.ConditioningEmbeddingOutChannels);
        Assert.True(config.GlobalPoolConditions);
        Assert.True(config.WantsBgr);
        Assert.Equal("text_time", config.AdditionEmbedType);
        Assert.Equal(80, config.ProjectionClassEmbeddingsInputDim);
    }

    [Fact]
    public void UnknownChannelOrderIsRefused()
    {
        var config = ConfigJson.Parse<ControlNetConfig>("""{"controlnet_conditioning_channel_order": "gbr"}""");
        Assert.Throws<InvalidDataException>(() => config.WantsBgr);
    }
}
