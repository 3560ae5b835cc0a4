using Easel.Tools;

// dotnet run -c Release --project tools/Easel.Tools -- <command> [options]
//   train-shapes [--template models/easel-shapes] [--out models/easel-shapes] [--work .work/easel-shapes] [--vae-steps N] [--diffusion-steps N] [--pool N]
//                (one stage; every option is read in TrainShapesCommand; scripts/train-shapes-model.sh chains the bundled model's stages)
//   export-shapes (same options as train-shapes: writes the model from the latest checkpoints of an unfinished run)
//   train-control --kind controlnet-edges|t2i-color|gligen [--base models/easel-shapes] [--out models/easel-shapes-KIND] [--work DIR] [--steps N] [--batch 32] [--lr 2e-4] [--stop-after N]
//                (a bundled control model, trained on the shapes world against the frozen base model; resumable)
//   eval-control [--images 48] [--steps 20] [--guidance 7.5] [--beta 0.3] [--controlnet-scale 1] [--adapter-scale 1] [--sections controlnet,t2i,gligen] [--save DIR]
//                [--base models/easel-shapes] [--controlnet DIR] [--adapter DIR] [--gligen DIR]
//                (the bundled control models' effects on held-out scenes, with and without their conditions)
//   eval-editing [--images 40] [--steps 20] [--guidance 7.5] [--decoder-steps 100] [--cross-replace 0.8] [--self-replace 0.4] [--inversions 10]
//                [--imagic-choose 10] [--imagic-test 20] [--embedding-steps 200] [--embedding-lr 1e-2] [--finetune-steps 300] [--finetune-lr 1e-4] [--sections blended,p2p,inversion,imagic]
//                [--model models/easel-shapes] [--save DIR]
//                (the edit methods' effects on held-out scenes: Blended Latent Diffusion per background, Prompt-to-Prompt swaps and re-weighting, inversion, Imagic's η sweep)
//   eval-shapes  [--model models/easel-shapes] [--images 240] [--steps 20] [--scheduler ddim] [--guidance 7.5] [--save DIR]
//   eval-rings   [--model models/easel-shapes] [--images 16] [--steps 20] [--scheduler ddim] [--guidance 7.5] [--save DIR]
//                (judge with rings on rendered rings, on rings through the model's VAE, and on the model's ring prompts)
//   eval-customization [--steps 400] [--images 8] [--rank 8] [--lora-scale 1] [--batch-size 4] [--target-modules to_q,to_k,to_v,to_out.0] [--lora-learning-rate 1e-3] [--ti-learning-rate 5e-3] [--smoke true]
//                (a LoRA and an embedding trained on 16 green rings through POST /v1/fine-tunes of a service it starts; held-out table)
//   fuzz-requests [--count 1000] [--seed 1] [--api src/Api/bin/Release/net10.0/Easel.Api.dll]
//                (mutated bodies to POST /v1/generations of a service it starts on loopback; exit 1 on any 5xx)
//   chaos-workers [--jobs 30] [--kills 15] [--seed 1] [--steps 60] [--images 2] [--size 64] [--max-attempts N] [--timeout-seconds 600] [--threads 1]
//                [--postgres CONNECTION] (default: EASEL_TEST_POSTGRES; a database of its own is created and dropped)
return args.Length == 0 ? Usage() : args[0] switch
{
    "train-shapes" => TrainShapesCommand.Run(new Options(args[1..])),
    "export-shapes" => TrainShapesCommand.Export(new Options(args[1..])),
    "train-control" => TrainControlCommand.Run(new Options(args[1..])),
    "eval-control" => EvalControlCommand.Run(new Options(args[1..])),
    "eval-editing" => EvalEditingCommand.Run(new Options(args[1..])),
    "eval-shapes" => EvalShapesCommand.Run(new Options(args[1..])),
    "eval-rings" => EvalRingsCommand.Run(new Options(args[1..])),
    "eval-customization" => EvalCustomizationCommand.Run(new Options(args[1..])),
    "fuzz-requests" => FuzzRequestsCommand.Run(new Options(args[1..])),
    "chaos-workers" => ChaosWorkersCommand.Run(new Options(args[1..])),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: Easel.Tools train-shapes|export-shapes|train-control|eval-control|eval-editing|eval-shapes|eval-rings|eval-customization|fuzz-requests|chaos-workers [--option value ...]");
    return 2;
}
